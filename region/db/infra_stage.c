/* Staged edits of an infrastructure: they write only the staged design
 * (s_* columns, `staged` flags), each in a transaction that holds the
 * infrastructure's row lock, so they never interleave with a deploy. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "region/db/infra_internal.h"

static int stage_begin(struct db *db, const char *infra, char id[INFRA_ID_STRLEN], struct infra_err *err)
{
	int r = db_begin(db);
	if (r == 0)
		r = infra_lock(db, infra, id, err);
	return r;
}

static int stage_end(struct db *db, const char *id, int r)
{
	const char *p[] = {id};

	if (r == 0)
		r = db_exec(db, "UPDATE infrastructure SET updated = now() WHERE id = $1::bigint", 1, p, NULL);
	if (r == 0)
		r = db_commit(db);
	return r < 0 ? db_rollback(db, r) : 0;
}

/* Rows a statement touched, or -errno. */
static long exec_count(struct db *db, const char *sql, int n, const char *const *params)
{
	PGresult *res;
	int r = db_exec(db, sql, n, params, &res);
	if (r < 0)
		return r;
	long count = db_affected(res);
	PQclear(res);
	return count;
}

static int count_query(struct db *db, const char *sql, const char *id, long *ret)
{
	const char *p[] = {id};
	char *v = NULL;
	int r = db_query_value(db, sql, 1, p, &v);
	if (r == 0)
		*ret = strtol(v, NULL, 10);
	free(v);
	return r;
}

/* The staged array called name: its id and port count. */
static int staged_array(struct db *db, const char *id, const char *infra, const char *name,
			char ret_id[INFRA_ID_STRLEN], uint32_t *ret_ports, struct infra_err *err)
{
	const char *p[] = {id, name};
	PGresult *res;
	int r = db_exec(db, "SELECT id, s_ports FROM infra_array WHERE infrastructure_id = $1::bigint AND s_name = $2",
			2, p, &res);
	if (r < 0)
		return r;
	if (PQntuples(res) == 1) {
		snprintf(ret_id, INFRA_ID_STRLEN, "%s", PQgetvalue(res, 0, 0));
		if (ret_ports)
			*ret_ports = (uint32_t)strtoul(PQgetvalue(res, 0, 1), NULL, 10);
	} else {
		r = infra_fail(err, -ENOENT, "array", "infrastructure \"%s\" has no instance array \"%.*s\"", infra,
			       INFRA_NAME_MAX, name ? name : "");
	}
	PQclear(res);
	return r;
}

static int staged_network(struct db *db, const char *id, const char *infra, const char *name,
			  char ret_id[INFRA_ID_STRLEN], struct infra_err *err)
{
	const char *p[] = {id, name};
	char *v = NULL;
	int r = db_query_value(db, "SELECT id FROM infra_network WHERE infrastructure_id = $1::bigint AND s_name = $2",
			       2, p, &v);
	if (r == 0)
		snprintf(ret_id, INFRA_ID_STRLEN, "%s", v);
	else if (r == -ENOENT)
		r = infra_fail(err, r, "network", "infrastructure \"%s\" has no network \"%.*s\"", infra,
			       INFRA_NAME_MAX, name ? name : "");
	free(v);
	return r;
}

/* ---- instance arrays ---- */

static int array_spec_check(const struct infra_array_spec *spec, bool create, struct infra_err *err)
{
	if ((create || spec->name) && infra_name_check(spec->name, "name", "instance array", err) < 0)
		return -EINVAL;
	if (spec->set_instances && spec->instances > INFRA_INSTANCES_MAX)
		return infra_fail(err, -EINVAL, "instance_count", "instance_count must be from 0 to %d",
				  INFRA_INSTANCES_MAX);
	if (spec->set_ports && (spec->ports < 1 || spec->ports > INFRA_PORTS_MAX))
		return infra_fail(err, -EINVAL, "ports", "ports must be from 1 to %d", INFRA_PORTS_MAX);
	if (spec->image && strlen(spec->image) > INFRA_NAME_MAX)
		return infra_fail(err, -EINVAL, "image", "image must be an image's name");
	return 0;
}

static int array_name_free(struct db *db, const char *id, const char *infra, const char *name, struct infra_err *err)
{
	const char *p[] = {id, name};
	char *v = NULL;
	int r = db_query_value(db, "SELECT id FROM infra_array WHERE infrastructure_id = $1::bigint AND s_name = $2", 2,
			       p, &v);
	free(v);
	if (r == 0)
		return infra_fail(err, -EEXIST, "name", "infrastructure \"%s\" already has an instance array \"%s\"",
				  infra, name);
	return r == -ENOENT ? 0 : r;
}

int db_infra_array_add(struct db *db, const char *infra, const struct infra_array_spec *spec, struct infra_err *err)
{
	char id[INFRA_ID_STRLEN], count[16], ports[16], cpu[16], mem[16], disk[16];
	long n = 0;

	int r = array_spec_check(spec, true, err);
	if (r == 0)
		r = stage_begin(db, infra, id, err);
	if (r == 0)
		r = count_query(db,
				"SELECT count(*) FROM infra_array WHERE infrastructure_id = $1::bigint "
				"AND s_name IS NOT NULL",
				id, &n);
	if (r == 0 && n >= INFRA_ARRAYS_MAX)
		r = infra_fail(err, -ENOSPC, "name", "infrastructure \"%s\" already has %d instance arrays", infra,
			       INFRA_ARRAYS_MAX);
	if (r == 0)
		r = array_name_free(db, id, infra, spec->name, err);
	snprintf(count, sizeof(count), "%" PRIu32, spec->set_instances ? spec->instances : 1);
	snprintf(ports, sizeof(ports), "%" PRIu32, spec->set_ports ? spec->ports : INFRA_PORTS_DEFAULT);
	snprintf(cpu, sizeof(cpu), "%" PRIu32, spec->set_min_cpu ? spec->min_cpu : 0);
	snprintf(mem, sizeof(mem), "%" PRIu32, spec->set_min_memory_gib ? spec->min_memory_gib : 0);
	snprintf(disk, sizeof(disk), "%" PRIu32, spec->set_min_disk_gb ? spec->min_disk_gb : 0);
	const char *p[] = {id,
			   spec->name,
			   count,
			   ports,
			   cpu,
			   mem,
			   disk,
			   spec->image ? spec->image : "",
			   spec->user_data ? spec->user_data : "",
			   spec->ssh_keys ? spec->ssh_keys : "[]"};
	if (r == 0)
		r = db_exec(db,
			    "INSERT INTO infra_array (infrastructure_id, s_name, s_instances, s_ports, s_min_cpu, "
			    "s_min_memory_gib, s_min_disk_gb, s_image, s_user_data, s_ssh_keys) "
			    "VALUES ($1::bigint, $2, $3::int, $4::int, $5::int, $6::int, $7::int, $8, $9, $10)",
			    10, p, NULL);
	return stage_end(db, id, r);
}

/* Shrinking the ports must not strand a staged connection. */
static int ports_free_above(struct db *db, const char *array_id, const char *array, uint32_t ports,
			    struct infra_err *err)
{
	char n[16];
	const char *p[] = {array_id, n};
	PGresult *res;

	snprintf(n, sizeof(n), "%" PRIu32, ports);
	int r =
	    db_exec(db,
		    "SELECT c.port, net.s_name FROM infra_connection c JOIN infra_network net ON net.id = c.network_id "
		    "WHERE c.array_id = $1::bigint AND c.staged AND c.port >= $2::int ORDER BY c.port LIMIT 1",
		    2, p, &res);
	if (r < 0)
		return r;
	if (PQntuples(res) > 0)
		r = infra_fail(err, -EBUSY, "ports",
			       "port eth%s of instance array \"%s\" is connected to network \"%s\"; "
			       "disconnect it first",
			       PQgetvalue(res, 0, 0), array, PQgetvalue(res, 0, 1));
	PQclear(res);
	return r;
}

int db_infra_array_update(struct db *db, const char *infra, const char *array, const struct infra_array_spec *spec,
			  struct infra_err *err)
{
	char id[INFRA_ID_STRLEN], array_id[INFRA_ID_STRLEN], count[16], ports[16], cpu[16], mem[16], disk[16];
	uint32_t old_ports = 0;

	int r = array_spec_check(spec, false, err);
	if (r == 0)
		r = stage_begin(db, infra, id, err);
	if (r == 0)
		r = staged_array(db, id, infra, array, array_id, &old_ports, err);
	if (r == 0 && spec->name && strcmp(spec->name, array) != 0)
		r = array_name_free(db, id, infra, spec->name, err);
	if (r == 0 && spec->set_ports && spec->ports < old_ports)
		r = ports_free_above(db, array_id, array, spec->ports, err);
	snprintf(count, sizeof(count), "%" PRIu32, spec->instances);
	snprintf(ports, sizeof(ports), "%" PRIu32, spec->ports);
	snprintf(cpu, sizeof(cpu), "%" PRIu32, spec->min_cpu);
	snprintf(mem, sizeof(mem), "%" PRIu32, spec->min_memory_gib);
	snprintf(disk, sizeof(disk), "%" PRIu32, spec->min_disk_gb);
	const char *p[] = {array_id,
			   spec->name,
			   spec->set_instances ? count : NULL,
			   spec->set_ports ? ports : NULL,
			   spec->set_min_cpu ? cpu : NULL,
			   spec->set_min_memory_gib ? mem : NULL,
			   spec->set_min_disk_gb ? disk : NULL,
			   spec->image,
			   spec->user_data,
			   spec->ssh_keys};
	if (r == 0)
		r = db_exec(db,
			    "UPDATE infra_array SET s_name = coalesce($2, s_name), "
			    "s_instances = coalesce($3::int, s_instances), s_ports = coalesce($4::int, s_ports), "
			    "s_min_cpu = coalesce($5::int, s_min_cpu), "
			    "s_min_memory_gib = coalesce($6::int, s_min_memory_gib), "
			    "s_min_disk_gb = coalesce($7::int, s_min_disk_gb), s_image = coalesce($8, s_image), "
			    "s_user_data = coalesce($9, s_user_data), s_ssh_keys = coalesce($10, s_ssh_keys) "
			    "WHERE id = $1::bigint",
			    10, p, NULL);
	return stage_end(db, id, r);
}

int db_infra_array_remove(struct db *db, const char *infra, const char *array, struct infra_err *err)
{
	char id[INFRA_ID_STRLEN], array_id[INFRA_ID_STRLEN];
	const char *p[] = {array_id};

	int r = stage_begin(db, infra, id, err);
	if (r == 0)
		r = staged_array(db, id, infra, array, array_id, NULL, err);
	/* Staged-only rows go; rows the deployed design holds lose their
	 * staged half. */
	if (r == 0)
		r = db_exec(db, "DELETE FROM infra_connection WHERE array_id = $1::bigint AND NOT deployed", 1, p,
			    NULL);
	if (r == 0)
		r = db_exec(db, "UPDATE infra_connection SET staged = false WHERE array_id = $1::bigint", 1, p, NULL);
	if (r == 0)
		r = db_exec(db, "DELETE FROM infra_drive WHERE array_id = $1::bigint AND NOT deployed", 1, p, NULL);
	if (r == 0)
		r = db_exec(db, "UPDATE infra_drive SET staged = false WHERE array_id = $1::bigint", 1, p, NULL);
	if (r == 0) {
		long n = exec_count(db, "DELETE FROM infra_array WHERE id = $1::bigint AND d_name IS NULL", 1, p);
		if (n == 0)
			n = exec_count(db,
				       "UPDATE infra_array SET s_name = NULL, s_instances = NULL, s_ports = NULL "
				       "WHERE id = $1::bigint",
				       1, p);
		r = n < 0 ? (int)n : 0;
	}
	return stage_end(db, id, r);
}

/* ---- networks ---- */

static int network_name_free(struct db *db, const char *id, const char *infra, const char *name, struct infra_err *err)
{
	const char *p[] = {id, name};
	char *v = NULL;
	int r = db_query_value(db, "SELECT id FROM infra_network WHERE infrastructure_id = $1::bigint AND s_name = $2",
			       2, p, &v);
	free(v);
	if (r == 0)
		return infra_fail(err, -EEXIST, "name", "infrastructure \"%s\" already has a network \"%s\"", infra,
				  name);
	return r == -ENOENT ? 0 : r;
}

int db_infra_network_add(struct db *db, const char *infra, const char *name, enum infra_net_type type,
			 struct infra_err *err)
{
	char id[INFRA_ID_STRLEN];
	long n = 0;

	int r = infra_name_check(name, "name", "network", err);
	if (r == 0)
		r = stage_begin(db, infra, id, err);
	if (r == 0)
		r = count_query(db,
				"SELECT count(*) FROM infra_network WHERE infrastructure_id = $1::bigint "
				"AND s_name IS NOT NULL",
				id, &n);
	if (r == 0 && n >= INFRA_NETWORKS_MAX)
		r = infra_fail(err, -ENOSPC, "name", "infrastructure \"%s\" already has %d networks", infra,
			       INFRA_NETWORKS_MAX);
	if (r == 0)
		r = network_name_free(db, id, infra, name, err);
	const char *p[] = {id, name, infra_net_type_name(type)};
	if (r == 0)
		r = db_exec(db,
			    "INSERT INTO infra_network (infrastructure_id, s_name, s_type) VALUES ($1::bigint, $2, $3)",
			    3, p, NULL);
	return stage_end(db, id, r);
}

int db_infra_network_rename(struct db *db, const char *infra, const char *network, const char *new_name,
			    struct infra_err *err)
{
	char id[INFRA_ID_STRLEN], net_id[INFRA_ID_STRLEN];
	const char *p[] = {net_id, new_name};

	int r = infra_name_check(new_name, "name", "network", err);
	if (r == 0)
		r = stage_begin(db, infra, id, err);
	if (r == 0)
		r = staged_network(db, id, infra, network, net_id, err);
	if (r == 0 && strcmp(network, new_name) != 0)
		r = network_name_free(db, id, infra, new_name, err);
	if (r == 0)
		r = db_exec(db, "UPDATE infra_network SET s_name = $2 WHERE id = $1::bigint", 2, p, NULL);
	return stage_end(db, id, r);
}

int db_infra_network_remove(struct db *db, const char *infra, const char *network, struct infra_err *err)
{
	char id[INFRA_ID_STRLEN], net_id[INFRA_ID_STRLEN];
	const char *p[] = {net_id};

	int r = stage_begin(db, infra, id, err);
	if (r == 0)
		r = staged_network(db, id, infra, network, net_id, err);
	if (r == 0)
		r = db_exec(db, "DELETE FROM infra_connection WHERE network_id = $1::bigint AND NOT deployed", 1, p,
			    NULL);
	if (r == 0)
		r = db_exec(db, "UPDATE infra_connection SET staged = false WHERE network_id = $1::bigint", 1, p, NULL);
	if (r == 0) {
		long n = exec_count(db, "DELETE FROM infra_network WHERE id = $1::bigint AND d_name IS NULL", 1, p);
		if (n == 0)
			n = exec_count(
			    db, "UPDATE infra_network SET s_name = NULL, s_type = NULL WHERE id = $1::bigint", 1, p);
		r = n < 0 ? (int)n : 0;
	}
	return stage_end(db, id, r);
}

/* ---- connections ---- */

struct conn_ids {
	char infra[INFRA_ID_STRLEN];
	char array[INFRA_ID_STRLEN];
	char network[INFRA_ID_STRLEN];
	char port[16];
};

static int conn_resolve(struct db *db, const char *infra, const char *array, uint32_t port, const char *network,
			struct conn_ids *ids, struct infra_err *err)
{
	uint32_t ports = 0;

	int r = stage_begin(db, infra, ids->infra, err);
	if (r == 0)
		r = staged_array(db, ids->infra, infra, array, ids->array, &ports, err);
	if (r == 0)
		r = staged_network(db, ids->infra, infra, network, ids->network, err);
	if (r == 0 && port >= ports)
		r = infra_fail(err, -EINVAL, "port", "instance array \"%s\" has %" PRIu32 " port(s), eth0-eth%" PRIu32,
			       array, ports, ports - 1);
	snprintf(ids->port, sizeof(ids->port), "%" PRIu32, port);
	return r;
}

/* A port connects to one network (seed 000: a port is dragged onto one
 * network); two ports of an array may share one. */
static int port_free(struct db *db, const struct conn_ids *ids, const char *array, uint32_t port, const char *network,
		     struct infra_err *err)
{
	const char *p[] = {ids->array, ids->port, ids->network};
	char *other = NULL;
	int r = db_query_value(db,
			       "SELECT n.s_name FROM infra_connection c JOIN infra_network n ON n.id = c.network_id "
			       "WHERE c.array_id = $1::bigint AND c.port = $2::int AND c.staged "
			       "AND c.network_id <> $3::bigint ORDER BY n.s_name LIMIT 1",
			       3, p, &other);
	if (r == -ENOENT)
		return 0;
	if (r == 0)
		r = infra_fail(err, -EBUSY, "port",
			       "port eth%" PRIu32 " of \"%s\" is already connected to \"%s\"; a port connects to one "
			       "network (disconnect it first to connect it to \"%s\")",
			       port, array, other, network);
	free(other);
	return r;
}

int db_infra_connect(struct db *db, const char *infra, const char *array, uint32_t port, const char *network,
		     struct infra_err *err)
{
	struct conn_ids ids;

	long n_conns = 0;
	int r = conn_resolve(db, infra, array, port, network, &ids, err);
	const char *p[] = {ids.infra, ids.array, ids.port, ids.network};
	if (r == 0)
		r = count_query(db,
				"SELECT count(*) FROM infra_connection WHERE infrastructure_id = $1::bigint AND staged",
				ids.infra, &n_conns);
	if (r == 0 && n_conns >= INFRA_CONNECTIONS_MAX)
		r = infra_fail(err, -ENOSPC, "network", "infrastructure \"%s\" already has %d connections", infra,
			       INFRA_CONNECTIONS_MAX);
	if (r == 0)
		r = port_free(db, &ids, array, port, network, err);
	if (r == 0) {
		long n =
		    exec_count(db,
			       "INSERT INTO infra_connection (infrastructure_id, array_id, port, network_id, "
			       "staged, deployed) VALUES ($1::bigint, $2::bigint, $3::int, $4::bigint, true, false) "
			       "ON CONFLICT (array_id, port, network_id) DO UPDATE SET staged = true "
			       "WHERE NOT infra_connection.staged",
			       4, p);
		r = n < 0 ? (int)n : 0;
		if (n == 0)
			r = infra_fail(err, -EEXIST, "network",
				       "port eth%" PRIu32 " of \"%s\" is already connected to \"%s\"", port, array,
				       network);
	}
	return stage_end(db, ids.infra, r);
}

int db_infra_disconnect(struct db *db, const char *infra, const char *array, uint32_t port, const char *network,
			struct infra_err *err)
{
	struct conn_ids ids;

	int r = conn_resolve(db, infra, array, port, network, &ids, err);
	const char *p[] = {ids.array, ids.port, ids.network};
	if (r == 0) {
		static const char where[] =
		    " WHERE array_id = $1::bigint AND port = $2::int AND network_id = $3::bigint "
		    "AND staged";
		char del[256], upd[256];
		snprintf(del, sizeof(del), "DELETE FROM infra_connection%s AND NOT deployed", where);
		snprintf(upd, sizeof(upd), "UPDATE infra_connection SET staged = false%s", where);
		long n = exec_count(db, del, 3, p);
		if (n == 0)
			n = exec_count(db, upd, 3, p);
		r = n < 0 ? (int)n : 0;
		if (n == 0)
			r = infra_fail(err, -ENOENT, "network",
				       "port eth%" PRIu32 " of \"%s\" is not connected to \"%s\"", port, array,
				       network);
	}
	return stage_end(db, ids.infra, r);
}

/* ---- drives ---- */

int db_infra_drive_add(struct db *db, const char *infra, const char *array, uint32_t size_gb, int64_t *ret_id,
		       struct infra_err *err)
{
	char id[INFRA_ID_STRLEN], array_id[INFRA_ID_STRLEN], size[16], *v = NULL;
	long n = 0;
	int r = 0;

	if (size_gb < 1 || size_gb > INFRA_DRIVE_GB_MAX)
		return infra_fail(err, -EINVAL, "size_gb", "size_gb must be from 1 to %d", INFRA_DRIVE_GB_MAX);
	r = stage_begin(db, infra, id, err);
	if (r == 0)
		r = staged_array(db, id, infra, array, array_id, NULL, err);
	if (r == 0)
		r = count_query(db, "SELECT count(*) FROM infra_drive WHERE array_id = $1::bigint AND staged", array_id,
				&n);
	if (r == 0 && n >= INFRA_DRIVES_MAX)
		r = infra_fail(err, -ENOSPC, "size_gb", "instance array \"%s\" already has %d drives", array,
			       INFRA_DRIVES_MAX);
	snprintf(size, sizeof(size), "%" PRIu32, size_gb);
	const char *p[] = {array_id, size};
	if (r == 0)
		r = db_query_value(db,
				   "INSERT INTO infra_drive (array_id, size_gb, staged, deployed) "
				   "VALUES ($1::bigint, $2::int, true, false) RETURNING id",
				   2, p, &v);
	if (r == 0 && ret_id)
		*ret_id = strtoll(v, NULL, 10);
	free(v);
	return stage_end(db, id, r);
}

int db_infra_drive_remove(struct db *db, const char *infra, const char *array, int64_t drive_id, struct infra_err *err)
{
	char id[INFRA_ID_STRLEN], array_id[INFRA_ID_STRLEN], drive[INFRA_ID_STRLEN];
	const char *p[] = {drive, array_id};

	snprintf(drive, sizeof(drive), "%lld", (long long)drive_id);
	int r = stage_begin(db, infra, id, err);
	if (r == 0)
		r = staged_array(db, id, infra, array, array_id, NULL, err);
	if (r == 0) {
		long n = exec_count(db,
				    "DELETE FROM infra_drive WHERE id = $1::bigint AND array_id = $2::bigint "
				    "AND staged AND NOT deployed",
				    2, p);
		if (n == 0)
			n = exec_count(db,
				       "UPDATE infra_drive SET staged = false WHERE id = $1::bigint "
				       "AND array_id = $2::bigint AND staged",
				       2, p);
		r = n < 0 ? (int)n : 0;
		if (n == 0)
			r = infra_fail(err, -ENOENT, "drive", "instance array \"%s\" has no drive %lld", array,
				       (long long)drive_id);
	}
	return stage_end(db, id, r);
}
