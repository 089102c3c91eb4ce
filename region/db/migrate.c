#include "region/db/migrate.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "common/log.h"
#include "common/util.h"

/* pg_advisory_lock key shared by every ironrack-regiond: "ironrack" in
 * ASCII, so it is recognisable in pg_locks. */
#define MIGRATE_LOCK_KEY "7598258041483518827"

static const char *mig_name(const struct migration *m)
{
	return m->name ? m->name : "(unnamed)";
}

static ssize_t migrate_find(const struct migration *m, size_t n, int version)
{
	for (size_t i = 0; i < n; i++)
		if (m[i].version == version)
			return (ssize_t)i;
	return -1;
}

/* Versions must be exactly 1..n: a gap usually means a file was lost in a
 * merge, and applying around it would leave the schema in a state no
 * release ever had. */
static int migrate_validate(const struct migration *m, size_t n, int *ret_max, char *err, size_t errlen)
{
	int max = 0;

	for (size_t i = 0; i < n; i++) {
		if (m[i].version <= 0) {
			err_set(err, errlen, "migration %s has version %d; versions start at 1", mig_name(&m[i]),
				m[i].version);
			return -EINVAL;
		}
		for (size_t j = i + 1; j < n; j++) {
			if (m[j].version == m[i].version) {
				err_set(err, errlen, "migrations %s and %s both have version %d", mig_name(&m[i]),
					mig_name(&m[j]), m[i].version);
				return -EINVAL;
			}
		}
		if (m[i].version > max)
			max = m[i].version;
	}
	/* No duplicates and all positive: a gap exists iff max != n. */
	if ((size_t)max != n) {
		for (int v = 1; v < max; v++) {
			if (migrate_find(m, n, v) < 0) {
				err_set(err, errlen, "no migration with version %d (numbering has a gap below %d)", v,
					max);
				return -EINVAL;
			}
		}
	}
	*ret_max = max;
	return 0;
}

int migrate_plan(const struct migration *m, size_t n, int current, size_t *ret_order, size_t cap, char *err,
		 size_t errlen)
{
	int max = 0;
	int r = migrate_validate(m, n, &max, err, errlen);
	if (r < 0)
		return r;
	if (current < 0) {
		err_set(err, errlen, "database reports schema version %d", current);
		return -EINVAL;
	}
	if (current > max) {
		err_set(err, errlen,
			"database schema is at version %d but this ironrack-regiond knows only up to %d; "
			"upgrade ironrack-regiond",
			current, max);
		return -EPROTO;
	}
	size_t count = (size_t)(max - current);
	if (count > cap) {
		err_set(err, errlen, "%zu migrations to apply but room for only %zu", count, cap);
		return -ENOSPC;
	}
	for (int v = current + 1; v <= max; v++)
		ret_order[v - current - 1] = (size_t)migrate_find(m, n, v);
	return (int)count;
}

/* PQerrorMessage ends in a newline; an err string should not. */
static void err_set_pq(char *err, size_t errlen, const char *what, PGconn *conn)
{
	const char *msg = PQerrorMessage(conn);
	int len = (int)strcspn(msg, "\n");
	err_set(err, errlen, "%s: %.*s", what, len, msg);
}

static int exec_simple(PGconn *conn, const char *sql, int nparams, const char *const *params, const char *what,
		       char *err, size_t errlen)
{
	PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	int r = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? 0 : -EIO;
	if (r < 0)
		err_set_pq(err, errlen, what, conn);
	PQclear(res);
	return r;
}

static int migrate_current(PGconn *conn, int *ret, char *err, size_t errlen)
{
	PGresult *res =
	    PQexecParams(conn, "SELECT coalesce(max(version), 0) FROM schema_version", 0, NULL, NULL, NULL, NULL, 0);
	int r = 0;
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		err_set_pq(err, errlen, "reading schema_version", conn);
		r = -EIO;
	} else {
		*ret = atoi(PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	return r;
}

static int migrate_apply(PGconn *conn, const struct migration *m, char *err, size_t errlen)
{
	char what[256], version[16];
	const char *params[2] = {version, mig_name(m)};

	snprintf(version, sizeof(version), "%d", m->version);
	snprintf(what, sizeof(what), "migration %s", mig_name(m));
	int r = exec_simple(conn, "BEGIN", 0, NULL, what, err, errlen);
	if (r < 0)
		return r;
	/* A migration file holds several statements, which only the simple
	 * query protocol accepts. It is SQL compiled into this binary and
	 * takes no parameters, so this is the one PQexec in region/db/. */
	PGresult *res = PQexec(conn, m->sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
		err_set_pq(err, errlen, what, conn);
		r = -EIO;
	}
	PQclear(res);
	if (r == 0)
		r = exec_simple(conn, "INSERT INTO schema_version (version, name) VALUES ($1::int, $2)", 2, params,
				what, err, errlen);
	if (r == 0)
		r = exec_simple(conn, "COMMIT", 0, NULL, what, err, errlen);
	if (r < 0) {
		PQclear(PQexecParams(conn, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0));
		return r;
	}
	log_debug("db: applied migration %s", mig_name(m));
	return 0;
}

static int migrate_locked(PGconn *conn, const struct migration *m, size_t n, char *err, size_t errlen)
{
	int r = exec_simple(conn,
			    "CREATE TABLE IF NOT EXISTS schema_version ("
			    "version int PRIMARY KEY, name text NOT NULL, "
			    "applied_at timestamptz NOT NULL DEFAULT now())",
			    0, NULL, "creating schema_version", err, errlen);
	if (r < 0)
		return r;
	int current = 0;
	r = migrate_current(conn, &current, err, errlen);
	if (r < 0)
		return r;
	size_t *order = xcalloc(n, sizeof(*order));
	int count = migrate_plan(m, n, current, order, n, err, errlen);
	for (int i = 0; i < count && r == 0; i++)
		r = migrate_apply(conn, &m[order[i]], err, errlen);
	free(order);
	if (count < 0)
		return count;
	return r < 0 ? r : count;
}

int migrate_run(PGconn *conn, const struct migration *m, size_t n, char *err, size_t errlen)
{
	const char *key[1] = {MIGRATE_LOCK_KEY};

	/* Session-level lock, held across the per-migration transactions, so
	 * regions starting together apply each migration exactly once. */
	int r =
	    exec_simple(conn, "SELECT pg_advisory_lock($1::bigint)", 1, key, "taking the migration lock", err, errlen);
	if (r < 0)
		return r;
	r = migrate_locked(conn, m, n, err, errlen);
	/* Keep the first error; an unlock failure only matters on success
	 * (and the lock dies with the session anyway). */
	char uerr[256];
	int u = exec_simple(conn, "SELECT pg_advisory_unlock($1::bigint)", 1, key, "releasing the migration lock", uerr,
			    sizeof(uerr));
	if (r >= 0 && u < 0) {
		err_set(err, errlen, "%s", uerr);
		return u;
	}
	return r;
}
