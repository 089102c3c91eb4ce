/* Schema migrations: numbered SQL files (region/db/migrations/NNNN_name.sql)
 * compiled into the binary (build/gen/migrations.c), applied at start-up in
 * one transaction each and tracked in the schema_version table. */
#pragma once

#include <libpq-fe.h>
#include <stddef.h>

struct migration {
	int version;
	const char *name;
	const char *sql;
};

/* The migrations built into this binary, in file-name order. */
extern const struct migration db_migrations[];
extern const size_t db_migrations_n;

/* Pure planning step, unit-tested without a database. Given the available
 * migrations (any order) and the schema version the database is at, write
 * into ret_order (capacity cap) the indices to apply, ascending by version,
 * and return how many. Errors (err says which file/version):
 *   -EINVAL  a version <= 0, a duplicate version, or a gap in numbering;
 *   -EPROTO  current is newer than the newest migration this binary knows
 *            (a newer ironrack has run against this database);
 *   -ENOSPC  cap too small. */
int migrate_plan(const struct migration *m, size_t n, int current, size_t *ret_order, size_t cap, char *err,
		 size_t errlen);

/* Bring the database up to date: take an advisory lock (several regions may
 * start at once), create schema_version if missing, plan, then apply each
 * migration in its own transaction together with its schema_version row.
 * Returns the number applied, or -errno with err set. */
int migrate_run(PGconn *conn, const struct migration *m, size_t n, char *err, size_t errlen);
