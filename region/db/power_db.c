/* Power in the database; see power_db.h. */
#include "region/db/power_db.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/db/db_internal.h"

#define MACHINE_COLS                                                                                                   \
	"m.id, m.hostname, m.power_type, m.power_params::text, m.power_secret, m.power_state, "                        \
	"coalesce((SELECT i.mac::text FROM interface i WHERE i.machine_id = m.id ORDER BY i.name LIMIT 1), '')"

void power_db_machine_done(struct power_db_machine *m)
{
	if (!m)
		return;
	free(m->params_json);
	if (m->secret)
		explicit_bzero(m->secret, m->secret_len);
	free(m->secret);
	memset(m, 0, sizeof(*m));
}

void power_db_machines_free(struct power_db_machine *m, size_t n)
{
	for (size_t i = 0; m && i < n; i++)
		power_db_machine_done(&m[i]);
	free(m);
}

static void machine_from(const PGresult *res, int row, struct power_db_machine *m)
{
	memset(m, 0, sizeof(*m));
	m->id = strtoll(PQgetvalue(res, row, 0), NULL, 10);
	snprintf(m->hostname, sizeof(m->hostname), "%s", PQgetvalue(res, row, 1));
	snprintf(m->type, sizeof(m->type), "%s", PQgetvalue(res, row, 2));
	m->params_json = xstrdup(PQgetvalue(res, row, 3));
	if (!PQgetisnull(res, row, 4)) {
		/* bytea in text form: \x + hex */
		const char *hex = PQgetvalue(res, row, 4);
		if (hex[0] == '\\' && hex[1] == 'x') {
			size_t n = strlen(hex + 2) / 2;
			m->secret = xmalloc(n ? n : 1);
			if (hex_decode(hex + 2, 2 * n, m->secret, n) == (int)n) {
				m->secret_len = n;
			} else {
				free(m->secret);
				m->secret = NULL;
			}
		}
	}
	snprintf(m->state, sizeof(m->state), "%s", PQgetvalue(res, row, 5));
	snprintf(m->mac, sizeof(m->mac), "%s", PQgetvalue(res, row, 6));
}

int power_db_machine_get(struct db *db, int64_t id, bool lock, struct power_db_machine *ret)
{
	char ids[24];
	const char *p[] = {ids};
	PGresult *res = NULL;

	db_id_text(id, ids);
	int r = db_query_row(db,
			     lock ? "SELECT " MACHINE_COLS " FROM machine m WHERE m.id = $1::bigint FOR UPDATE OF m"
				  : "SELECT " MACHINE_COLS " FROM machine m WHERE m.id = $1::bigint",
			     1, p, &res);
	if (r < 0)
		return r;
	machine_from(res, 0, ret);
	PQclear(res);
	return 0;
}

int power_db_params_set(struct db *db, int64_t id, const char *type, const char *params_json, const uint8_t *secret,
			size_t secret_len, bool set_secret)
{
	char ids[24];
	char *hex = NULL;
	PGresult *res = NULL;

	db_id_text(id, ids);
	if (secret) {
		hex = xmalloc(2 * secret_len + 3);
		memcpy(hex, "\\x", 2);
		hex_encode(secret, secret_len, hex + 2);
	}
	const char *p[] = {ids, type, params_json, set_secret ? "t" : "f", hex};
	int r = db_exec(db,
			"UPDATE machine SET power_type = $2, power_params = $3::jsonb, "
			"power_secret = CASE WHEN $4::boolean THEN $5::bytea ELSE power_secret END, "
			"power_state = CASE WHEN power_type = $2 THEN power_state ELSE 'unknown' END, "
			"power_state_at = CASE WHEN power_type = $2 THEN power_state_at END, "
			"power_rack_id = CASE WHEN power_type = $2 THEN power_rack_id END, "
			"power_error = CASE WHEN power_type = $2 THEN power_error ELSE '' END "
			"WHERE id = $1::bigint",
			5, p, &res);
	free(hex);
	if (r < 0)
		return r;
	long n = db_affected(res);
	PQclear(res);
	return n == 1 ? 0 : -ENOENT;
}

int power_db_rack_for(struct db *db, int64_t id, const char *region_name, char rack[64], char iface[32], char how[160])
{
	char ids[24];
	const char *p[] = {ids, region_name};
	PGresult *res = NULL;

	db_id_text(id, ids);
	rack[0] = iface[0] = how[0] = '\0';
	int r =
	    db_exec(db, "SELECT rack_id, coalesce(iface, ''), coalesce(how, '') FROM power_rack_for($1::bigint, $2)", 2,
		    p, &res);
	if (r < 0)
		return r;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
		PQclear(res);
		return -ENOENT;
	}
	snprintf(rack, 64, "%s", PQgetvalue(res, 0, 0));
	snprintf(iface, 32, "%s", PQgetvalue(res, 0, 1));
	snprintf(how, 160, "%s", PQgetvalue(res, 0, 2));
	PQclear(res);
	return 0;
}

/* The first column of the first row as an id (-ENOENT: no row). */
static int exec_id(struct db *db, const char *sql, int n, const char *const *p, int64_t *ret)
{
	char *v = NULL;
	int r = db_query_value(db, sql, n, p, &v);
	if (r == 0 && ret)
		*ret = strtoll(v, NULL, 10);
	free(v);
	return r;
}

int power_db_action_new(struct db *db, int64_t machine_id, const char *action, const char *boot,
			const char *requested_by, const char *rack_id, int64_t *ret_id)
{
	char ids[24];
	const char *p[] = {ids, action, boot, requested_by, rack_id};

	db_id_text(machine_id, ids);
	return exec_id(db,
		       "WITH a AS (INSERT INTO power_action (machine_id, action, boot, requested_by, rack_id) "
		       "VALUES ($1::bigint, $2, $3, $4, $5) RETURNING id), "
		       "e AS (INSERT INTO machine_event (machine_id, kind, actor, description, action_id) "
		       "SELECT $1::bigint, 'power.requested', $4, "
		       "format('power %s requested%s, through rack %s', $2, "
		       "CASE WHEN $3 <> '' THEN ' (next boot: ' || $3 || ')' ELSE '' END, $5), a.id FROM a) "
		       "SELECT id FROM a",
		       5, p, ret_id);
}

int power_db_action_finish(struct db *db, int64_t machine_id, int64_t action_id, const char *rack_id, bool ok,
			   const char *state, const char *message, bool needs_person)
{
	char mids[24], aids[24];
	const char *p[] = {mids, aids, ok ? "t" : "f", state, message, needs_person ? "t" : "f", rack_id};
	int64_t id = 0;

	db_id_text(machine_id, mids);
	db_id_text(action_id, aids);
	/* An action failed because its rack went away (rack_lost) still takes
	 * the outcome the rack reports when it comes back. The machine's state
	 * follows what was seen: a state an action reached, or a query that
	 * could not see (error); an on, off or cycle that failed (or was
	 * superseded) says nothing of the state, its action and event do. */
	int r = exec_id(db,
			"WITH o AS (SELECT rack_lost FROM power_action WHERE id = $2::bigint), "
			"a AS (UPDATE power_action SET status = CASE WHEN $3::boolean THEN 'done' ELSE 'failed' END, "
			"state = $4, message = $5, needs_person = $6::boolean, finished = now(), rack_lost = false "
			"WHERE id = $2::bigint AND machine_id = $1::bigint AND (status = 'pending' OR rack_lost) "
			"AND ($7::text IS NULL OR rack_id = $7) RETURNING id, action), "
			"m AS (UPDATE machine SET "
			"power_state = CASE WHEN $4 IN ('on', 'off') THEN $4 "
			"WHEN NOT $3::boolean AND (SELECT action FROM a) = 'query' THEN 'error' ELSE power_state END, "
			"power_state_at = CASE WHEN $4 IN ('on', 'off') OR (NOT $3::boolean AND "
			"(SELECT action FROM a) = 'query') THEN now() ELSE power_state_at END, "
			"power_error = CASE WHEN $3::boolean THEN '' WHEN (SELECT action FROM a) = 'query' THEN $5 "
			"ELSE power_error END "
			"WHERE id = $1::bigint AND EXISTS (SELECT 1 FROM a) AND NOT $6::boolean RETURNING id), "
			"e AS (INSERT INTO machine_event (machine_id, kind, description, action_id) "
			"SELECT $1::bigint, CASE WHEN $6::boolean THEN 'power.needs_person' WHEN $3::boolean "
			"THEN 'power.done' ELSE 'power.failed' END, "
			"format('power %s %s%s%s%s', a.action, CASE WHEN $6::boolean THEN 'needs a person' "
			"WHEN $3::boolean THEN 'done' ELSE 'failed' END, "
			"CASE WHEN $4 <> '' AND $4 <> 'unknown' THEN ' (state ' || $4 || ')' ELSE '' END, "
			"CASE WHEN (SELECT rack_lost FROM o) THEN ', reported after its rack came back' ELSE '' END, "
			"CASE WHEN $5 <> '' THEN ': ' || $5 ELSE '' END), a.id FROM a) "
			/* -1: the action was asked of another rack */
			"SELECT coalesce((SELECT id FROM a), (SELECT -1 FROM power_action x WHERE x.id = $2::bigint "
			"AND x.machine_id = $1::bigint AND $7::text IS NOT NULL AND x.rack_id IS DISTINCT FROM $7))",
			7, p, &id);
	return r == 0 && id < 0 ? -EACCES : r;
}

int power_db_actions_fail_rack(struct db *db, const char *rack_id, const char *message)
{
	const char *p[] = {rack_id, message};
	PGresult *res = NULL;
	int r = db_exec(db,
			"WITH a AS (UPDATE power_action SET status = 'failed', message = $2, finished = now(), "
			"rack_lost = true WHERE rack_id = $1 AND status = 'pending' RETURNING id, machine_id, action), "
			"e AS (INSERT INTO machine_event (machine_id, kind, description, action_id) "
			"SELECT machine_id, 'power.failed', format('power %s failed: %s', action, $2), id FROM a) "
			"SELECT count(*) FROM a",
			2, p, &res);
	if (r < 0)
		return r;
	int n = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return n;
}

int power_db_state_set(struct db *db, int64_t machine_id, const char *state, const char *error, const char *rack_id)
{
	char ids[24];
	const char *p[] = {ids, state, error, rack_id};
	PGresult *res = NULL;

	db_id_text(machine_id, ids);
	int r = db_exec(db,
			/* The old values come from the UPDATE's own FROM (the
			 * snapshot before it), not from a FOR UPDATE CTE: that
			 * one would see the row this statement updates. */
			"WITH u AS (UPDATE machine m SET power_state = $2, power_error = $3, power_state_at = now() "
			"FROM (SELECT id, power_state, power_error FROM machine WHERE id = $1::bigint) o "
			"WHERE m.id = o.id AND m.power_rack_id = $4 "
			"RETURNING o.power_state AS old_state, o.power_error AS old_error), "
			"e AS (INSERT INTO machine_event (machine_id, kind, actor, description) "
			"SELECT $1::bigint, 'power.state', 'rack ' || $4, "
			"CASE WHEN $3 <> '' THEN format('power state %s: %s', $2, $3) "
			"ELSE format('power state %s (was %s)', $2, u.old_state) END FROM u "
			"WHERE u.old_state <> $2 OR u.old_error <> $3) "
			"SELECT (SELECT count(*) FROM u), (SELECT count(*) FROM u WHERE u.old_state <> $2 OR "
			"u.old_error <> $3), (SELECT count(*) FROM machine WHERE id = $1::bigint)",
			4, p, &res);
	if (r < 0)
		return r;
	bool found = strcmp(PQgetvalue(res, 0, 0), "1") == 0;
	bool changed = strcmp(PQgetvalue(res, 0, 1), "1") == 0;
	bool exists = strcmp(PQgetvalue(res, 0, 2), "1") == 0;
	PQclear(res);
	return found ? (changed ? 1 : 0) : exists ? -EACCES : -ENOENT;
}

#define ACTION_JSON                                                                                                    \
	"json_build_object('id', a.id, 'machine', m.hostname, 'action', a.action, 'boot', a.boot, "                    \
	"'requested_by', a.requested_by, 'requested', ir_rfc3339(a.requested), 'rack', a.rack_id, "                    \
	"'status', a.status, 'state', a.state, 'message', a.message, 'needs_person', a.needs_person, "                 \
	"'finished', ir_rfc3339(a.finished))"

int power_db_action_json(struct db *db, int64_t machine_id, int64_t action_id, char **ret)
{
	char mids[24], aids[24];
	const char *p[] = {mids, aids};
	db_id_text(machine_id, mids);
	db_id_text(action_id, aids);
	return db_query_value(db,
			      "SELECT " ACTION_JSON " FROM power_action a JOIN machine m ON m.id = a.machine_id "
			      "WHERE a.id = $2::bigint AND a.machine_id = $1::bigint",
			      2, p, ret);
}

int power_db_power_json(struct db *db, int64_t machine_id, char **ret)
{
	char ids[24];
	const char *p[] = {ids};
	db_id_text(machine_id, ids);
	return db_query_value(
	    db,
	    "SELECT json_build_object('machine', m.hostname, 'power_type', m.power_type, "
	    "'state', m.power_state, 'state_at', ir_rfc3339(m.power_state_at), 'error', m.power_error, "
	    "'rack', m.power_rack_id, 'last_action', (SELECT " ACTION_JSON
	    " FROM power_action a WHERE a.machine_id = m.id ORDER BY a.id DESC LIMIT 1)) "
	    "FROM machine m WHERE m.id = $1::bigint",
	    1, p, ret);
}

int power_db_events_json(struct db *db, int64_t machine_id, int64_t after, long limit, char **ret)
{
	char ids[24], afters[24], limits[24];
	const char *p[] = {ids, afters, limits};
	db_id_text(machine_id, ids);
	db_id_text(after, afters);
	db_id_text(limit, limits);
	return db_query_value(db,
			      "SELECT json_build_object('events', coalesce(json_agg(json_build_object('id', e.id, "
			      "'at', ir_rfc3339(e.at), 'kind', e.kind, 'actor', e.actor, 'description', e.description, "
			      "'action_id', e.action_id) ORDER BY e.id), '[]'::json)) "
			      "FROM (SELECT * FROM machine_event WHERE machine_id = $1::bigint AND id > $2::bigint "
			      "ORDER BY id LIMIT $3::bigint) e",
			      3, p, ret);
}

int power_db_poll_machines(struct db *db, const char *rack_id, const char *region_name, struct power_db_machine **ret,
			   size_t *ret_n)
{
	const char *p[] = {rack_id, region_name};
	PGresult *res = NULL;

	*ret = NULL;
	*ret_n = 0;
	int r = db_exec(db,
			"WITH c AS (SELECT m.id FROM machine m, power_rack_for(m.id, $2) f "
			"WHERE m.power_type IN ('ipmi', 'redfish') AND f.rack_id = $1), "
			"u AS (UPDATE machine m SET power_rack_id = $1 FROM c "
			"WHERE m.id = c.id AND m.power_rack_id IS DISTINCT FROM $1) "
			"SELECT " MACHINE_COLS " FROM machine m JOIN c ON c.id = m.id ORDER BY m.hostname",
			2, p, &res);
	if (r < 0)
		return r;
	size_t n = (size_t)PQntuples(res);
	struct power_db_machine *m = xcalloc(n ? n : 1, sizeof(*m));
	for (size_t i = 0; i < n; i++)
		machine_from(res, (int)i, &m[i]);
	PQclear(res);
	*ret = m;
	*ret_n = n;
	return 0;
}

int power_db_connected_racks(struct db *db, const char *region_name, char (**ret)[64], size_t *ret_n)
{
	const char *p[] = {region_name};
	PGresult *res = NULL;
	int r = db_exec(db, "SELECT id FROM rack WHERE connected AND connected_region = $1 ORDER BY id", 1, p, &res);
	if (r < 0)
		return r;
	size_t n = (size_t)PQntuples(res);
	char(*ids)[64] = xcalloc(n ? n : 1, sizeof(*ids));
	for (size_t i = 0; i < n; i++)
		snprintf(ids[i], sizeof(ids[i]), "%s", PQgetvalue(res, (int)i, 0));
	PQclear(res);
	*ret = ids;
	*ret_n = n;
	return 0;
}
