/* Deploy and release in the database; see deploy_db.h. */
#include "region/db/deploy_db.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/db/db_internal.h"

void deploy_db_row_free(struct deploy_db_row *d)
{
	if (!d)
		return;
	free(d->user_data);
	for (size_t i = 0; i < d->n_ssh_keys; i++)
		free(d->ssh_keys[i]);
	free(d->ssh_keys);
	d->user_data = NULL;
	d->ssh_keys = NULL;
	d->n_ssh_keys = 0;
}

int deploy_db_create(struct db *db, int64_t id, int64_t image_id, const char *image_name, const char *image_sha256,
		     const char *user_data, const char *ssh_keys_json, int *ret_number)
{
	char ids[24], iids[24];
	db_id_text(id, ids);
	db_id_text(image_id, iids);
	const char *p[] = {ids, iids, image_name, image_sha256, user_data, ssh_keys_json};
	PGresult *res;
	int r = db_query_row(
	    db,
	    "WITH m AS (UPDATE machine SET deploy_count = deploy_count + 1 WHERE id = $1::bigint "
	    "RETURNING id, deploy_count) "
	    "INSERT INTO machine_deploy (machine_id, image_id, image_name, image_sha256, user_data, ssh_keys, number) "
	    "SELECT m.id, $2::bigint, $3, $4, $5, ARRAY(SELECT jsonb_array_elements_text($6::jsonb)), m.deploy_count "
	    "FROM m "
	    "ON CONFLICT (machine_id) DO UPDATE SET image_id = EXCLUDED.image_id, image_name = EXCLUDED.image_name, "
	    "image_sha256 = EXCLUDED.image_sha256, user_data = EXCLUDED.user_data, ssh_keys = EXCLUDED.ssh_keys, "
	    "number = EXCLUDED.number, step = 'pending', result = '{}'::jsonb, deployed_when = 'boot', "
	    "created = now() "
	    "RETURNING number",
	    6, p, &res);
	if (r < 0)
		return r;
	if (ret_number)
		*ret_number = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

/* A JSON array of strings into d->ssh_keys. */
static int keys_parse(const char *text, struct deploy_db_row *d)
{
	json_t *a = json_loads(text, 0, NULL);
	if (!json_is_array(a)) {
		json_decref(a);
		return -EIO;
	}
	d->ssh_keys = xcalloc(json_array_size(a) + 1, sizeof(*d->ssh_keys));
	for (size_t i = 0; i < json_array_size(a); i++) {
		const char *k = json_string_value(json_array_get(a, i));
		d->ssh_keys[d->n_ssh_keys++] = xstrdup(k ? k : "");
	}
	json_decref(a);
	return 0;
}

int deploy_db_get(struct db *db, int64_t id, struct deploy_db_row *ret)
{
	char ids[24];
	const char *p[] = {ids};
	PGresult *res;
	db_id_text(id, ids);
	int r = db_query_row(db,
			     "SELECT machine_id, coalesce(image_id, 0), image_name, image_sha256, user_data, "
			     "array_to_json(ssh_keys)::text, number, step, deployed_when FROM machine_deploy "
			     "WHERE machine_id = $1::bigint",
			     1, p, &res);
	if (r < 0)
		return r;
	memset(ret, 0, sizeof(*ret));
	ret->machine_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	ret->image_id = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	snprintf(ret->image_name, sizeof(ret->image_name), "%s", PQgetvalue(res, 0, 2));
	snprintf(ret->image_sha256, sizeof(ret->image_sha256), "%s", PQgetvalue(res, 0, 3));
	ret->user_data = xstrdup(PQgetvalue(res, 0, 4));
	r = keys_parse(PQgetvalue(res, 0, 5), ret);
	ret->number = (int)strtol(PQgetvalue(res, 0, 6), NULL, 10);
	snprintf(ret->step, sizeof(ret->step), "%s", PQgetvalue(res, 0, 7));
	snprintf(ret->deployed_when, sizeof(ret->deployed_when), "%s", PQgetvalue(res, 0, 8));
	PQclear(res);
	if (r < 0)
		deploy_db_row_free(ret);
	return r;
}

int deploy_db_json(struct db *db, int64_t id, char **ret)
{
	char ids[24];
	const char *p[] = {ids};
	db_id_text(id, ids);
	return db_query_value(db,
			      "SELECT json_build_object('image', image_name, 'image_sha256', image_sha256, 'number', "
			      "number, 'step', step, 'deployed_when', deployed_when, 'result', result, 'created', "
			      "created, 'updated', updated)::text FROM machine_deploy WHERE machine_id = $1::bigint",
			      1, p, ret);
}

int deploy_db_step(struct db *db, int64_t id, const char *step, const char *result_json, const char *deployed_when)
{
	char ids[24];
	db_id_text(id, ids);
	const char *p[] = {ids, step, result_json, deployed_when};
	long n = db_exec_count(db,
			       "UPDATE machine_deploy SET step = $2, result = coalesce($3::jsonb, result), "
			       "deployed_when = coalesce($4, deployed_when) WHERE machine_id = $1::bigint",
			       4, p, NULL);
	return n < 0 ? (int)n : n == 0 ? -ENOENT : 0;
}

int deploy_db_boot_state(struct db *db, int64_t id, char ret_step[16], char ret_erase[8])
{
	char ids[24];
	const char *p[] = {ids};
	PGresult *res;
	db_id_text(id, ids);
	int r = db_query_row(db,
			     "SELECT coalesce(d.step, ''), m.release_erase FROM machine m "
			     "LEFT JOIN machine_deploy d ON d.machine_id = m.id WHERE m.id = $1::bigint",
			     1, p, &res);
	if (r < 0)
		return r;
	snprintf(ret_step, 16, "%s", PQgetvalue(res, 0, 0));
	snprintf(ret_erase, 8, "%s", PQgetvalue(res, 0, 1));
	PQclear(res);
	return 0;
}

int deploy_db_release(struct db *db, int64_t id, const char *erase, long *ret_freed)
{
	char ids[24];
	db_id_text(id, ids);
	const char *p[] = {ids, erase};
	long n = db_exec_count(db,
			       "UPDATE machine SET release_erase = $2, owner = '', allocated_at = NULL "
			       "WHERE id = $1::bigint",
			       2, p, NULL);
	if (n < 0)
		return (int)n;
	if (n == 0)
		return -ENOENT;
	/* An auto-mode address was picked for this allocation; the link's
	 * other modes (static, dhcp) are the operator's and stay. */
	long freed = db_exec_count(db,
				   "DELETE FROM ip_address WHERE mode = 'auto' AND owner_kind = 'machine_interface' "
				   "AND interface_id IN (SELECT id FROM interface WHERE machine_id = $1::bigint)",
				   1, p, NULL);
	if (freed < 0)
		return (int)freed;
	n = db_exec_count(db, "DELETE FROM machine_deploy WHERE machine_id = $1::bigint", 1, p, NULL);
	if (n < 0)
		return (int)n;
	if (ret_freed)
		*ret_freed = freed;
	return 0;
}

int deploy_db_message(struct db *db, int64_t id, const char *message)
{
	char ids[24];
	db_id_text(id, ids);
	const char *p[] = {ids, message};
	long n = db_exec_count(db, "UPDATE machine SET status_message = $2 WHERE id = $1::bigint", 2, p, NULL);
	return n < 0 ? (int)n : n == 0 ? -ENOENT : 0;
}

int deploy_db_release_done(struct db *db, int64_t id)
{
	char ids[24];
	const char *p[] = {ids};
	db_id_text(id, ids);
	long n = db_exec_count(db, "UPDATE machine SET release_erase = '' WHERE id = $1::bigint", 1, p, NULL);
	return n < 0 ? (int)n : n == 0 ? -ENOENT : 0;
}

int deploy_db_leases_seen(struct db *db, const char *rack_id, const char *leases_json, long min_lease_s)
{
	char min[24];
	snprintf(min, sizeof(min), "%ld", min_lease_s);
	const char *p[] = {leases_json, min, rack_id};
	long n = db_exec_count(
	    db,
	    "WITH l AS (SELECT DISTINCT ON (d.machine_id) d.machine_id AS id, e.ip "
	    "FROM jsonb_to_recordset($1::jsonb) AS e(mac macaddr, ip text, expiry bigint) "
	    "JOIN interface i ON i.mac = e.mac JOIN machine_deploy d ON d.machine_id = i.machine_id "
	    "WHERE d.step = 'rebooting' AND d.deployed_when = 'dhcp' "
	    "AND (e.expiry = 0 OR e.expiry - extract(epoch FROM now()) > $2::bigint) "
	    "ORDER BY d.machine_id, e.ip), "
	    "m AS (UPDATE machine SET status = 'DEPLOYED', status_previous = status, status_since = now(), "
	    "status_deadline = NULL, status_action_id = NULL, "
	    "status_message = 'deployed: its OS took the DHCP lease of ' || l.ip "
	    "FROM l WHERE machine.id = l.id AND machine.status = 'DEPLOYING' RETURNING machine.id, l.ip), "
	    "d AS (UPDATE machine_deploy SET step = 'deployed' FROM m WHERE machine_deploy.machine_id = m.id), "
	    "e AS (INSERT INTO machine_event (machine_id, kind, actor, description) "
	    "SELECT m.id, 'status', 'rack ' || $3, 'DEPLOYING → DEPLOYED: its OS took the DHCP lease of ' || m.ip "
	    "FROM m) "
	    "SELECT id FROM m",
	    3, p, NULL);
	return n < 0 ? (int)n : (int)n;
}
