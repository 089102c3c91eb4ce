/* Shared by the files of region/db/ only: the connection object and the
 * statement helpers of db.c, so that each part of the schema can keep its
 * SQL in its own file. */
#pragma once

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "region/db/db.h"

struct db {
	PGconn *conn;
	bool in_tx;
	char last_error[512];
	/* Diagnostics of the last failed statement ("" when absent): its
	 * SQLSTATE, the column and constraint it names and its primary
	 * message. Triggers raise errors meant for API clients this way. */
	char last_state[6];
	char last_column[64];
	char last_constraint[64];
	char last_message[256];
};

/* Run one statement (PQexecParams, text in and out); *ret (if given)
 * receives the result, to PQclear(). Errors as in db.h. */
int db_exec(struct db *db, const char *sql, int n, const char *const *params, PGresult **ret);
/* Rows a command touched (UPDATE/DELETE/INSERT), from its tag. */
long db_affected(const PGresult *res);
/* Run sql; the rows it returned (a query) or touched (a command), or
 * -errno. With ret the result is the caller's to PQclear. */
long db_exec_count(struct db *db, const char *sql, int n, const char *const *params, PGresult **ret);
/* A query that must return exactly one row: 0 with *ret the result (to
 * PQclear), -ENOENT (nothing to clear) for none or several, or -errno. */
int db_query_row(struct db *db, const char *sql, int n, const char *const *params, PGresult **ret);
/* id as a query parameter. */
void db_id_text(int64_t id, char buf[24]);
/* A single value query: *ret is a malloc'd copy of row 0 column 0;
 * -ENOENT without a row or for NULL. */
int db_query_value(struct db *db, const char *sql, int n, const char *const *params, char **ret);
