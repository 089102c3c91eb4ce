/* Infrastructures: create, update, delete, list, get, and loading both
 * designs of one (infra.h; schema in migrations/0003_infra.sql). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/util.h"
#include "region/db/infra_internal.h"

int infra_fail(struct infra_err *err, int r, const char *field, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return r;
	snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return r;
}

int infra_name_check(const char *name, const char *field, const char *what, struct infra_err *err)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0)
		return infra_fail(err, -EINVAL, field, "%s is required", field);
	if (n > INFRA_NAME_MAX)
		return infra_fail(err, -EINVAL, field, "%s name is longer than %d characters", what, INFRA_NAME_MAX);
	bool digits_only = true;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || !strchr("._-", c)))
			return infra_fail(err, -EINVAL, field,
					  "%s name \"%.*s\" may only hold letters, digits, '.', '_' and '-', "
					  "and must start with a letter or digit",
					  what, INFRA_NAME_MAX, name);
		digits_only &= c >= '0' && c <= '9';
	}
	if (digits_only)
		return infra_fail(err, -EINVAL, field, "%s name \"%s\" must not be all digits", what, name);
	return 0;
}

int infra_net_type_parse(const char *s, enum infra_net_type *ret)
{
	static const enum infra_net_type types[] = {INFRA_NET_LAN, INFRA_NET_WAN, INFRA_NET_SAN};

	for (size_t i = 0; s && i < sizeof(types) / sizeof(types[0]); i++) {
		if (strcmp(s, infra_net_type_name(types[i])) == 0) {
			*ret = types[i];
			return 0;
		}
	}
	return -EINVAL;
}

int infra_lock(struct db *db, const char *name, char ret_id[INFRA_ID_STRLEN], struct infra_err *err)
{
	const char *p[] = {name};
	char *v = NULL;
	int r = db_query_value(db, "SELECT id FROM infrastructure WHERE name = $1 FOR UPDATE", 1, p, &v);

	if (r == -ENOENT)
		return infra_fail(err, r, "", "infrastructure \"%.*s\" not found", INFRA_NAME_MAX, name);
	if (r == 0)
		snprintf(ret_id, INFRA_ID_STRLEN, "%s", v);
	free(v);
	return r;
}

/* ---- WAN pools ---- */

/* "{a,b}" literal for a cidr[] parameter; *ret malloc'd. */
static int pools_text(const struct ipprefix *pools, size_t n, char **ret)
{
	char *buf = xmalloc(2 + n * (IPPREFIX_STRLEN + 1) + 1), *o = buf;

	*o++ = '{';
	for (size_t i = 0; i < n; i++) {
		char t[IPPREFIX_STRLEN];
		o += sprintf(o, "%s%s", i ? "," : "", ipprefix_format(&pools[i], t, sizeof(t)));
	}
	*o++ = '}';
	*o = '\0';
	*ret = buf;
	return 0;
}

static int pools_check(const struct ipprefix *pools, size_t n, struct infra_err *err)
{
	char a[IPPREFIX_STRLEN], b[IPPREFIX_STRLEN];

	if (n > INFRA_WAN_POOLS_MAX)
		return infra_fail(err, -EINVAL, "wan_pools", "at most %d WAN pools", INFRA_WAN_POOLS_MAX);
	for (size_t i = 0; i < n; i++) {
		ipprefix_format(&pools[i], a, sizeof(a));
		if (pools[i].addr.family != AF_INET)
			return infra_fail(err, -EINVAL, "wan_pools", "WAN pool %s is not IPv4", a);
		if (pools[i].len > 29)
			return infra_fail(err, -EINVAL, "wan_pools",
					  "WAN pool %s is smaller than the /29 a new WAN gets", a);
		for (size_t j = 0; j < i; j++) {
			if (ipprefix_overlaps(&pools[i], &pools[j]))
				return infra_fail(err, -EINVAL, "wan_pools", "WAN pools %s and %s overlap",
						  ipprefix_format(&pools[j], b, sizeof(b)), a);
		}
	}
	return 0;
}

int infra_pools_parse(const char *list, struct ipprefix **ret, size_t *ret_n)
{
	size_t n = *list ? 1 : 0;

	for (const char *c = list; *c; c++)
		n += *c == ' ';
	struct ipprefix *pools = xcalloc(n, sizeof(*pools));
	size_t k = 0;
	for (const char *c = list; *c && k < n;) {
		char t[IPPREFIX_STRLEN];
		size_t len = strcspn(c, " ");
		snprintf(t, sizeof(t), "%.*s", (int)len, c);
		if (ipprefix_parse(t, false, &pools[k]) == 0)
			k++;
		c += len + (c[len] == ' ');
	}
	*ret = pools;
	*ret_n = k;
	return 0;
}

/* ---- create / update / delete ---- */

static int zone_id(struct db *db, const char *zone, char **ret, struct infra_err *err)
{
	const char *p[] = {zone ? zone : "default"};
	int r = db_query_value(db, "SELECT id FROM zone WHERE name = $1", 1, p, ret);

	if (r == -ENOENT)
		return infra_fail(err, r, "zone", "zone \"%.*s\" not found", INFRA_NAME_MAX, p[0]);
	return r;
}

static int fabric_id(struct db *db, const char *fabric, char **ret, struct infra_err *err)
{
	const char *p[] = {fabric};
	int r = db_query_value(db, "SELECT id FROM fabric WHERE $1::text IS NULL OR name = $1 ORDER BY id LIMIT 1", 1,
			       p, ret);

	if (r == -ENOENT && fabric)
		return infra_fail(err, r, "fabric", "fabric \"%.*s\" not found", INFRA_NAME_MAX, fabric);
	if (r == -ENOENT)
		return infra_fail(err, -EBUSY, "fabric", "no fabric exists yet; create one first");
	return r;
}

static int infra_insert(struct db *db, const struct infra_new *in, const char *zone, const char *fabric,
			const char *pools, struct infra_err *err)
{
	const char *p[] = {in->name, in->description ? in->description : "", zone, fabric, pools};
	char *v = NULL;
	int r = db_query_value(db, "SELECT count(*) FROM infrastructure", 0, NULL, &v);

	if (r == 0 && strtol(v, NULL, 10) >= INFRA_MAX)
		r = infra_fail(err, -ENOSPC, "", "there are already %d infrastructures", INFRA_MAX);
	free(v);
	if (r == 0)
		r = db_exec(db,
			    "INSERT INTO infrastructure (name, description, zone_id, fabric_id, wan_pools) "
			    "VALUES ($1, $2, $3::bigint, $4::bigint, $5::cidr[])",
			    5, p, NULL);
	if (r == -EEXIST)
		return infra_fail(err, r, "name", "infrastructure \"%s\" already exists", in->name);
	return r;
}

int db_infra_create(struct db *db, const struct infra_new *in, struct infra_err *err)
{
	char *zone = NULL, *fabric = NULL, *pools = NULL;

	int r = infra_name_check(in->name, "name", "infrastructure", err);
	if (r == 0 && in->description && strlen(in->description) > INFRA_DESCRIPTION_MAX)
		r = infra_fail(err, -EINVAL, "description", "description is longer than %d bytes",
			       INFRA_DESCRIPTION_MAX);
	if (r == 0)
		r = pools_check(in->wan_pools, in->n_wan_pools, err);
	if (r == 0)
		r = pools_text(in->wan_pools, in->n_wan_pools, &pools);
	if (r == 0)
		r = db_begin(db);
	if (r == 0)
		r = zone_id(db, in->zone, &zone, err);
	if (r == 0)
		r = fabric_id(db, in->fabric, &fabric, err);
	if (r == 0)
		r = infra_pools_ipam_check(db, pools, err);
	if (r == 0)
		r = infra_insert(db, in, zone, fabric, pools, err);
	if (r == 0)
		r = db_commit(db);
	free(zone);
	free(fabric);
	free(pools);
	return r < 0 ? db_rollback(db, r) : 0;
}

/* Shrinking the pools must leave every block this infrastructure holds
 * inside one of them: growth plans only within the pools. */
static int pools_still_hold(struct db *db, const char *id, const char *pools, struct infra_err *err)
{
	const char *p[] = {id, pools};
	PGresult *res;
	int r = db_exec(db,
			"SELECT b.prefix, n.d_name FROM infra_wan_block b JOIN infra_network n ON n.id = b.network_id "
			"WHERE n.infrastructure_id = $1::bigint "
			"AND NOT EXISTS (SELECT 1 FROM unnest($2::cidr[]) AS pool(c) WHERE b.prefix <<= pool.c) "
			"ORDER BY b.prefix LIMIT 1",
			2, p, &res);
	if (r < 0)
		return r;
	if (PQntuples(res) > 0)
		r = infra_fail(err, -EBUSY, "wan_pools", "block %s of WAN \"%s\" would be outside every WAN pool",
			       PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
	PQclear(res);
	return r;
}

int db_infra_update(struct db *db, const char *name, const struct infra_update *up, struct infra_err *err)
{
	char id[INFRA_ID_STRLEN], *zone = NULL, *pools = NULL;
	int r = 0;

	if (up->description && strlen(up->description) > INFRA_DESCRIPTION_MAX)
		r = infra_fail(err, -EINVAL, "description", "description is longer than %d bytes",
			       INFRA_DESCRIPTION_MAX);
	if (r == 0 && up->set_wan_pools)
		r = pools_check(up->wan_pools, up->n_wan_pools, err);
	if (r == 0 && up->set_wan_pools)
		r = pools_text(up->wan_pools, up->n_wan_pools, &pools);
	if (r == 0)
		r = db_begin(db);
	if (r == 0)
		r = infra_lock(db, name, id, err);
	if (r == 0 && up->zone)
		r = zone_id(db, up->zone, &zone, err);
	if (r == 0 && pools)
		r = pools_still_hold(db, id, pools, err);
	if (r == 0 && pools)
		r = infra_pools_ipam_check(db, pools, err);
	if (r == 0) {
		const char *p[] = {id, up->description, zone, pools};
		r = db_exec(db,
			    "UPDATE infrastructure SET description = coalesce($2, description), "
			    "zone_id = coalesce($3::bigint, zone_id), wan_pools = coalesce($4::cidr[], wan_pools) "
			    "WHERE id = $1::bigint",
			    4, p, NULL);
	}
	if (r == 0)
		r = db_commit(db);
	free(zone);
	free(pools);
	return r < 0 ? db_rollback(db, r) : 0;
}

int db_infra_delete(struct db *db, const char *name, struct infra_err *err)
{
	char id[INFRA_ID_STRLEN];
	const char *p[] = {id};

	/* Everything hangs off the row: designs, instances (their links and
	 * addresses with them), WAN blocks and deploy history cascade; VLAN
	 * ids return to the pool (SET NULL). The machines are given back
	 * first, and the WANs' IPAM mirrors go after. */
	int r = db_begin(db);
	if (r == 0)
		r = infra_ipam_own(db);
	if (r == 0)
		r = infra_lock(db, name, id, err);
	if (r == 0)
		r = infra_machines_release_all(db, name, id, err);
	if (r == 0)
		r = db_exec(db, "DELETE FROM infrastructure WHERE id = $1::bigint", 1, p, NULL);
	if (r == 0)
		r = infra_ipam_prune(db);
	if (r == 0)
		r = db_commit(db);
	return r < 0 ? db_rollback(db, r) : 0;
}

/* ---- reading ---- */

static const char infra_select[] =
    "SELECT i.id, i.name, i.description, z.name, f.name, array_to_string(i.wan_pools, ' '), i.revision, "
    "(extract(epoch FROM i.created) * 1000)::bigint, (extract(epoch FROM i.updated) * 1000)::bigint, "
    "coalesce((extract(epoch FROM i.deployed) * 1000)::bigint, 0), "
    "(SELECT count(*) FROM infra_array a WHERE a.infrastructure_id = i.id AND a.s_name IS NOT NULL), "
    "(SELECT count(*) FROM infra_network n WHERE n.infrastructure_id = i.id AND n.s_name IS NOT NULL), "
    "(SELECT count(*) FROM infra_array a WHERE a.infrastructure_id = i.id AND a.d_name IS NOT NULL), "
    "(SELECT count(*) FROM infra_network n WHERE n.infrastructure_id = i.id AND n.d_name IS NOT NULL) "
    "FROM infrastructure i JOIN zone z ON z.id = i.zone_id JOIN fabric f ON f.id = i.fabric_id "
    "WHERE $1::text IS NULL OR i.name = $1 ORDER BY i.name";

static char *dup_col(const PGresult *res, int row, int col)
{
	return xstrdup(infra_val(res, row, col));
}

static int infra_from(const PGresult *res, int i, struct infra_row *row)
{
	memset(row, 0, sizeof(*row));
	row->id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
	row->name = dup_col(res, i, 1);
	row->description = dup_col(res, i, 2);
	row->zone = dup_col(res, i, 3);
	row->fabric = dup_col(res, i, 4);
	row->revision = strtoll(PQgetvalue(res, i, 6), NULL, 10);
	row->created_ms = strtoll(PQgetvalue(res, i, 7), NULL, 10);
	row->updated_ms = strtoll(PQgetvalue(res, i, 8), NULL, 10);
	row->deployed_ms = strtoll(PQgetvalue(res, i, 9), NULL, 10);
	row->n_staged_arrays = strtoul(PQgetvalue(res, i, 10), NULL, 10);
	row->n_staged_networks = strtoul(PQgetvalue(res, i, 11), NULL, 10);
	row->n_deployed_arrays = strtoul(PQgetvalue(res, i, 12), NULL, 10);
	row->n_deployed_networks = strtoul(PQgetvalue(res, i, 13), NULL, 10);
	return infra_pools_parse(PQgetvalue(res, i, 5), &row->wan_pools, &row->n_wan_pools);
}

int db_infra_list(struct db *db, struct infra_row **ret, size_t *ret_n)
{
	const char *p[] = {NULL};
	PGresult *res;
	int r = db_exec(db, infra_select, 1, p, &res);

	if (r < 0)
		return r;
	int n = PQntuples(res);
	struct infra_row *rows = xcalloc((size_t)n, sizeof(*rows));
	for (int i = 0; i < n && r == 0; i++)
		r = infra_from(res, i, &rows[i]);
	PQclear(res);
	if (r < 0) {
		db_infra_rows_free(rows, (size_t)n);
		return r;
	}
	*ret = rows;
	*ret_n = (size_t)n;
	return 0;
}

int db_infra_get(struct db *db, const char *name, struct infra_row *ret)
{
	const char *p[] = {name};
	char id[INFRA_ID_STRLEN];
	PGresult *res;

	if (!name)
		return -EINVAL;
	/* One snapshot for the row and both designs. */
	int r = db_begin(db);
	if (r == 0)
		r = db_exec(db, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0, NULL, NULL);
	if (r == 0)
		r = db_exec(db, infra_select, 1, p, &res);
	if (r < 0)
		return db_rollback(db, r);
	memset(ret, 0, sizeof(*ret));
	r = PQntuples(res) == 1 ? infra_from(res, 0, ret) : -ENOENT;
	PQclear(res);
	snprintf(id, sizeof(id), "%lld", (long long)ret->id);
	if (r == 0)
		r = infra_design_load(db, id, ret);
	db_rollback(db, 0);
	if (r < 0)
		db_infra_row_done(ret);
	return r;
}

void infra_design_rows_done(struct infra_design_rows *d)
{
	for (size_t i = 0; i < d->n_arrays; i++) {
		free(d->arrays[i].name);
		free(d->arrays[i].image);
		free(d->arrays[i].user_data);
		free(d->arrays[i].ssh_keys);
		free(d->arrays[i].drives);
		for (size_t k = 0; k < d->arrays[i].n_inst; k++)
			free(d->arrays[i].inst[k].machine);
		free(d->arrays[i].inst);
	}
	free(d->arrays);
	for (size_t i = 0; i < d->n_networks; i++) {
		free(d->networks[i].name);
		free(d->networks[i].blocks);
	}
	free(d->networks);
	free(d->conns);
	memset(d, 0, sizeof(*d));
}

void db_infra_row_done(struct infra_row *row)
{
	if (!row)
		return;
	free(row->name);
	free(row->description);
	free(row->zone);
	free(row->fabric);
	free(row->wan_pools);
	infra_design_rows_done(&row->staged);
	infra_design_rows_done(&row->deployed);
	memset(row, 0, sizeof(*row));
}

void db_infra_rows_free(struct infra_row *rows, size_t n)
{
	if (!rows)
		return;
	for (size_t i = 0; i < n; i++)
		db_infra_row_done(&rows[i]);
	free(rows);
}

/* ---- loading the designs ---- */

const struct infra_array_row *infra_rows_array(const struct infra_design_rows *d, int64_t id)
{
	for (size_t i = 0; i < d->n_arrays; i++)
		if (d->arrays[i].id == id)
			return &d->arrays[i];
	return NULL;
}

const struct infra_network_row *infra_rows_network(const struct infra_design_rows *d, int64_t id)
{
	for (size_t i = 0; i < d->n_networks; i++)
		if (d->networks[i].id == id)
			return &d->networks[i];
	return NULL;
}

const struct infra_array_row *infra_rows_array_named(const struct infra_design_rows *d, const char *name)
{
	for (size_t i = 0; name && i < d->n_arrays; i++)
		if (strcmp(d->arrays[i].name, name) == 0)
			return &d->arrays[i];
	return NULL;
}

const struct infra_network_row *infra_rows_network_named(const struct infra_design_rows *d, const char *name)
{
	for (size_t i = 0; name && i < d->n_networks; i++)
		if (strcmp(d->networks[i].name, name) == 0)
			return &d->networks[i];
	return NULL;
}

static int load_arrays(struct db *db, const char *id, struct infra_row *row)
{
	const char *p[] = {id};
	PGresult *res;
	int r = db_exec(db,
			"SELECT id, s_name, s_instances, s_ports, d_name, d_instances, d_ports, "
			"s_min_cpu, s_min_memory_gib, s_min_disk_gb, d_min_cpu, d_min_memory_gib, d_min_disk_gb, "
			"s_image, s_user_data, s_ssh_keys, d_image, d_user_data, d_ssh_keys "
			"FROM infra_array WHERE infrastructure_id = $1::bigint ORDER BY id",
			1, p, &res);
	if (r < 0)
		return r;
	int n = PQntuples(res);
	row->staged.arrays = xcalloc((size_t)n + 1, sizeof(struct infra_array_row));
	row->deployed.arrays = xcalloc((size_t)n + 1, sizeof(struct infra_array_row));
	for (int i = 0; i < n; i++) {
		for (int d = 0; d < 2; d++) {
			int c = 1 + 3 * d;
			struct infra_design_rows *des = d ? &row->deployed : &row->staged;
			if (PQgetisnull(res, i, c))
				continue;
			struct infra_array_row *a = &des->arrays[des->n_arrays++];
			a->id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
			a->name = dup_col(res, i, c);
			a->instances = (uint32_t)strtoul(PQgetvalue(res, i, c + 1), NULL, 10);
			a->ports = (uint32_t)strtoul(PQgetvalue(res, i, c + 2), NULL, 10);
			int q = 7 + 3 * d;
			a->min_cpu = (uint32_t)strtoul(PQgetvalue(res, i, q), NULL, 10);
			a->min_memory_gib = (uint32_t)strtoul(PQgetvalue(res, i, q + 1), NULL, 10);
			a->min_disk_gb = (uint32_t)strtoul(PQgetvalue(res, i, q + 2), NULL, 10);
			int o = 13 + 3 * d;
			a->image = dup_col(res, i, o);
			a->user_data = dup_col(res, i, o + 1);
			a->ssh_keys = dup_col(res, i, o + 2);
		}
	}
	PQclear(res);
	return 0;
}

static int load_drives(struct db *db, const char *id, struct infra_row *row)
{
	const char *p[] = {id};
	PGresult *res;
	int r = db_exec(db,
			"SELECT d.id, d.array_id, d.size_gb, d.staged, d.deployed FROM infra_drive d "
			"JOIN infra_array a ON a.id = d.array_id WHERE a.infrastructure_id = $1::bigint ORDER BY d.id",
			1, p, &res);
	if (r < 0)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		int64_t array_id = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		for (int d = 0; d < 2; d++) {
			struct infra_design_rows *des = d ? &row->deployed : &row->staged;
			struct infra_array_row *a = (struct infra_array_row *)infra_rows_array(des, array_id);
			if (PQgetvalue(res, i, 3 + d)[0] != 't' || !a)
				continue;
			a->drives = xreallocarray(a->drives, a->n_drives + 1, sizeof(*a->drives));
			struct infra_drive_row *drive = &a->drives[a->n_drives++];
			drive->id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
			drive->size_gb = (uint32_t)strtoul(PQgetvalue(res, i, 2), NULL, 10);
		}
	}
	PQclear(res);
	return 0;
}

static int load_instances(struct db *db, const char *id, struct infra_row *row)
{
	const char *p[] = {id};
	PGresult *res;
	int r = db_exec(db,
			"SELECT i.array_id, i.idx, m.hostname FROM infra_instance i "
			"JOIN infra_array a ON a.id = i.array_id LEFT JOIN machine m ON m.id = i.machine_id "
			"WHERE a.infrastructure_id = $1::bigint ORDER BY i.array_id, i.idx",
			1, p, &res);
	if (r < 0)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		struct infra_array_row *a = (struct infra_array_row *)infra_rows_array(
		    &row->deployed, strtoll(PQgetvalue(res, i, 0), NULL, 10));
		if (!a)
			continue;
		a->inst = xreallocarray(a->inst, a->n_inst + 1, sizeof(*a->inst));
		struct infra_instance_row *inst = &a->inst[a->n_inst++];
		inst->index = (uint32_t)strtoul(PQgetvalue(res, i, 1), NULL, 10);
		inst->machine = PQgetisnull(res, i, 2) ? NULL : dup_col(res, i, 2);
	}
	PQclear(res);
	return 0;
}

static int load_networks(struct db *db, const char *id, struct infra_row *row)
{
	const char *p[] = {id};
	PGresult *res;
	int r = db_exec(db,
			"SELECT n.id, n.s_name, n.s_type, n.d_name, n.d_type, coalesce(v.vid, 0) "
			"FROM infra_network n LEFT JOIN infra_vlan_pool v ON v.network_id = n.id "
			"WHERE n.infrastructure_id = $1::bigint ORDER BY n.id",
			1, p, &res);
	if (r < 0)
		return r;
	int n = PQntuples(res);
	row->staged.networks = xcalloc((size_t)n + 1, sizeof(struct infra_network_row));
	row->deployed.networks = xcalloc((size_t)n + 1, sizeof(struct infra_network_row));
	for (int i = 0; i < n; i++) {
		for (int d = 0; d < 2; d++) {
			int c = 1 + 2 * d;
			struct infra_design_rows *des = d ? &row->deployed : &row->staged;
			if (PQgetisnull(res, i, c))
				continue;
			struct infra_network_row *net = &des->networks[des->n_networks++];
			net->id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
			net->name = dup_col(res, i, c);
			infra_net_type_parse(PQgetvalue(res, i, c + 1), &net->type);
			if (d)
				net->vid = (uint32_t)strtoul(PQgetvalue(res, i, 5), NULL, 10);
		}
	}
	PQclear(res);
	return 0;
}

static void gateway_set(struct infra_network_row *net)
{
	for (size_t i = 0; i < net->n_blocks; i++) {
		struct ipaddr first;
		if (net->blocks[i].extra)
			continue;
		ipprefix_first(&net->blocks[i].prefix, &first);
		net->has_gateway = ipaddr_add(&first, 1, &net->gateway) == 0;
		return;
	}
}

static int load_blocks(struct db *db, const char *id, struct infra_row *row)
{
	const char *p[] = {id};
	PGresult *res;
	/* Primary blocks first, oldest first: the first is the one the WAN
	 * started with and holds its gateway. */
	int r = db_exec(db,
			"SELECT b.network_id, b.prefix, b.kind FROM infra_wan_block b "
			"JOIN infra_network n ON n.id = b.network_id WHERE n.infrastructure_id = $1::bigint "
			"ORDER BY b.network_id, b.kind = 'extra', b.id",
			1, p, &res);
	if (r < 0)
		return r;
	for (int i = 0; i < PQntuples(res); i++) {
		struct infra_network_row *net = (struct infra_network_row *)infra_rows_network(
		    &row->deployed, strtoll(PQgetvalue(res, i, 0), NULL, 10));
		if (!net)
			continue;
		net->blocks = xreallocarray(net->blocks, net->n_blocks + 1, sizeof(*net->blocks));
		struct infra_block_row *block = &net->blocks[net->n_blocks];
		memset(block, 0, sizeof(*block));
		if (ipprefix_parse(PQgetvalue(res, i, 1), false, &block->prefix) < 0)
			continue;
		block->extra = strcmp(PQgetvalue(res, i, 2), "extra") == 0;
		net->n_blocks++;
	}
	PQclear(res);
	for (size_t i = 0; i < row->deployed.n_networks; i++)
		if (row->deployed.networks[i].type == INFRA_NET_WAN)
			gateway_set(&row->deployed.networks[i]);
	return r;
}

static int load_conns(struct db *db, const char *id, struct infra_row *row)
{
	const char *p[] = {id};
	PGresult *res;
	int r = db_exec(db,
			"SELECT array_id, port, network_id, staged, deployed FROM infra_connection "
			"WHERE infrastructure_id = $1::bigint ORDER BY array_id, port, network_id",
			1, p, &res);
	if (r < 0)
		return r;
	int n = PQntuples(res);
	row->staged.conns = xcalloc((size_t)n + 1, sizeof(struct infra_conn_row));
	row->deployed.conns = xcalloc((size_t)n + 1, sizeof(struct infra_conn_row));
	for (int i = 0; i < n; i++) {
		for (int d = 0; d < 2; d++) {
			struct infra_design_rows *des = d ? &row->deployed : &row->staged;
			if (PQgetvalue(res, i, 3 + d)[0] != 't')
				continue;
			struct infra_conn_row *c = &des->conns[des->n_conns];
			c->array_id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
			c->port = (uint32_t)strtoul(PQgetvalue(res, i, 1), NULL, 10);
			c->network_id = strtoll(PQgetvalue(res, i, 2), NULL, 10);
			const struct infra_array_row *a = infra_rows_array(des, c->array_id);
			const struct infra_network_row *net = infra_rows_network(des, c->network_id);
			/* Staged edits keep connections to objects of their own
			 * design; skip anything else rather than show a dangling
			 * name (the planner would refuse it). */
			if (!a || !net)
				continue;
			c->array = a->name;
			c->network = net->name;
			des->n_conns++;
		}
	}
	PQclear(res);
	return r;
}

int infra_design_load(struct db *db, const char *id, struct infra_row *row)
{
	int r = load_arrays(db, id, row);
	if (r == 0)
		r = load_drives(db, id, row);
	if (r == 0)
		r = load_instances(db, id, row);
	if (r == 0)
		r = load_networks(db, id, row);
	if (r == 0)
		r = load_blocks(db, id, row);
	if (r == 0)
		r = load_conns(db, id, row);
	return r;
}
