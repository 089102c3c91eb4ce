/* All SQL of the region. Every statement goes through db_exec(), which
 * uses PQexecParams with text parameters and text results; values are
 * converted to our structs here and nowhere else. */
#include "region/db/db.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "region/db/db_internal.h"
#include "region/db/migrate.h"

#define DB_APIKEY_PREFIX       "irk_"
#define DB_APIKEY_RANDOM_BYTES 20
#define DB_APIKEY_LEN	       (sizeof(DB_APIKEY_PREFIX) - 1 + 2 * DB_APIKEY_RANDOM_BYTES)

static void db_notice(void *arg, const char *msg)
{
	/* libpq would print notices on stderr; library code does not. */
	log_debug("db: %.*s", (int)strcspn(msg, "\n"), msg);
}

/* What a failed statement says to whoever asked. PostgreSQL's own text
 * names tables and constraints and quotes the offending input (bytes that
 * may not even be UTF-8, which then broke the JSON of the answer), so it
 * goes to the debug log only; callers, their logs and their answers get
 * these words and the SQLSTATE. Our own triggers' messages (SQLSTATE
 * IRnnn, and P0001 of a plain RAISE EXCEPTION) are written for API
 * clients and pass as they are. Longest prefix first within a class. */
static const struct {
	const char *state; /* SQLSTATE or its class prefix */
	const char *text;
} db_state_texts[] = {
    {"22021", "text is not valid UTF-8"},
    {"22P05", "text has a character the database cannot store"},
    {"22001", "a value is too long"},
    {"22003", "a number is out of range"},
    {"22P02", "a value is not in the expected format"},
    {"22007", "a date or time is not valid"},
    {"22008", "a date or time is out of range"},
    {"22", "a value is not valid"},
    {"23505", "an object with that value already exists"},
    {"23503", "an object the change refers to does not exist, or another object still refers to it"},
    {"23502", "a required value is missing"},
    {"23514", "a value is not allowed"},
    {"23P01", "the change overlaps an existing object"},
    {"23", "the change conflicts with existing data"},
    {"40", "the database gave up a conflicting transaction; retry"},
    {"53", "the database is out of resources"},
    {"57", "the database is shutting down or restarting"},
    {"08", "the database connection was lost"},
};

/* Our words for state ("" or NULL: no SQLSTATE, a failure of the
 * connection rather than of the statement). */
static const char *db_state_text(const char *state, bool connection_ok)
{
	if (!state || !*state)
		return connection_ok ? "database error" : "the database connection was lost";
	for (size_t i = 0; i < sizeof(db_state_texts) / sizeof(db_state_texts[0]); i++)
		if (strncmp(state, db_state_texts[i].state, strlen(db_state_texts[i].state)) == 0)
			return db_state_texts[i].text;
	return "database error";
}

static bool db_state_is_ours(const char *state)
{
	return state && (strncmp(state, "IR", 2) == 0 || strcmp(state, "P0001") == 0);
}

/* Record why the last statement failed (res NULL or without a SQLSTATE:
 * the connection's error). */
static void db_error_set(struct db *db, const PGresult *res)
{
	const char *raw = res && *PQresultErrorMessage(res) ? PQresultErrorMessage(res) : PQerrorMessage(db->conn);
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	log_debug("db: %.*s", (int)strcspn(raw, "\n"), raw);
	if (db_state_is_ours(state) && primary)
		snprintf(db->last_error, sizeof(db->last_error), "%s", primary);
	else if (state && *state)
		snprintf(db->last_error, sizeof(db->last_error), "%s (SQLSTATE %s)", db_state_text(state, true), state);
	else
		snprintf(db->last_error, sizeof(db->last_error), "%s",
			 db_state_text(NULL, PQstatus(db->conn) == CONNECTION_OK));
}

static void db_diag_copy(char *buf, size_t len, const PGresult *res, int field)
{
	const char *v = res ? PQresultErrorField(res, field) : NULL;
	snprintf(buf, len, "%s", v ? v : "");
}

static void db_diag_set(struct db *db, const PGresult *res)
{
	db_diag_copy(db->last_state, sizeof(db->last_state), res, PG_DIAG_SQLSTATE);
	db_diag_copy(db->last_column, sizeof(db->last_column), res, PG_DIAG_COLUMN_NAME);
	db_diag_copy(db->last_constraint, sizeof(db->last_constraint), res, PG_DIAG_CONSTRAINT_NAME);
	if (db_state_is_ours(db->last_state))
		db_diag_copy(db->last_message, sizeof(db->last_message), res, PG_DIAG_MESSAGE_PRIMARY);
	else
		snprintf(db->last_message, sizeof(db->last_message), "%s",
			 db_state_text(db->last_state, PQstatus(db->conn) == CONNECTION_OK));
}

/* What a failed statement means to the caller. Values PostgreSQL rejects
 * (bad JSON, MAC, address, VLAN) are the caller's input, not a database
 * failure. */
static int db_errno(const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (!state)
		return -EIO;
	if (strcmp(state, "23505") == 0)
		return -EEXIST;
	if (strcmp(state, "23503") == 0)
		return -ENOENT;
	if (strncmp(state, "22", 2) == 0 || strcmp(state, "23514") == 0 || strcmp(state, "23502") == 0)
		return -EINVAL;
	return -EIO;
}

/* Run one statement; *ret (if given) receives the result, to PQclear().
 * A broken connection is reset and the statement tried once more, but
 * only outside a transaction: inside one, the transaction died with the
 * connection, so the caller's BEGIN (always safe to repeat) is where a
 * write notices. */
int db_exec(struct db *db, const char *sql, int n, const char *const *params, PGresult **ret)
{
	for (int attempt = 0;; attempt++) {
		if (!db->in_tx && PQstatus(db->conn) == CONNECTION_BAD)
			PQreset(db->conn);
		PGresult *res = PQexecParams(db->conn, sql, n, NULL, params, NULL, NULL, 0);
		ExecStatusType st = PQresultStatus(res);
		if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
			if (ret)
				*ret = res;
			else
				PQclear(res);
			return 0;
		}
		int r = db_errno(res);
		db_error_set(db, res);
		db_diag_set(db, res);
		PQclear(res);
		if (attempt > 0 || db->in_tx || PQstatus(db->conn) != CONNECTION_BAD)
			return r;
		log_debug("db: connection lost; reconnecting");
		PQreset(db->conn);
		if (PQstatus(db->conn) != CONNECTION_OK) {
			db_error_set(db, NULL);
			return -EIO;
		}
	}
}

/* Rows a command touched (UPDATE/DELETE/INSERT), from its tag. */
long db_affected(const PGresult *res)
{
	return strtol(PQcmdTuples((PGresult *)res), NULL, 10);
}

long db_exec_count(struct db *db, const char *sql, int n, const char *const *params, PGresult **ret)
{
	PGresult *res = NULL;
	int r = db_exec(db, sql, n, params, &res);
	if (r < 0)
		return r;
	long c = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : db_affected(res);
	if (ret)
		*ret = res;
	else
		PQclear(res);
	return c;
}

int db_query_row(struct db *db, const char *sql, int n, const char *const *params, PGresult **ret)
{
	long c = db_exec_count(db, sql, n, params, ret);
	if (c < 0)
		return (int)c;
	if (c != 1) {
		PQclear(*ret);
		*ret = NULL;
		return -ENOENT;
	}
	return 0;
}

void db_id_text(int64_t id, char buf[24])
{
	snprintf(buf, 24, "%" PRId64, id);
}

int db_begin(struct db *db)
{
	int r = db_exec(db, "BEGIN", 0, NULL, NULL);
	db->in_tx = r == 0;
	return r;
}

int db_commit(struct db *db)
{
	int r = db_exec(db, "COMMIT", 0, NULL, NULL);
	db->in_tx = false;
	return r;
}

/* Returns r, for "return db_rollback(db, r);". */
int db_rollback(struct db *db, int r)
{
	if (db->in_tx && PQstatus(db->conn) == CONNECTION_OK)
		PQclear(PQexecParams(db->conn, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0));
	db->in_tx = false;
	return r;
}

/* A single value query: *ret is a malloc'd copy of row 0 column 0. */
int db_query_value(struct db *db, const char *sql, int n, const char *const *params, char **ret)
{
	PGresult *res;
	int r = db_exec(db, sql, n, params, &res);
	if (r < 0)
		return r;
	if (PQntuples(res) < 1 || PQgetisnull(res, 0, 0)) {
		r = -ENOENT;
	} else {
		*ret = xstrdup(PQgetvalue(res, 0, 0));
		r = 0;
	}
	PQclear(res);
	return r;
}

static int db_query_int64(struct db *db, const char *sql, int n, const char *const *params, int64_t *ret)
{
	char *v = NULL;
	int r = db_query_value(db, sql, n, params, &v);
	if (r == 0)
		*ret = strtoll(v, NULL, 10);
	free(v);
	return r;
}

int db_connect(const char *dsn, int connect_timeout_s, struct db **ret, char *err, size_t errlen)
{
	/* dbname is expanded as a connection string; keys before it are
	 * defaults the DSN may override, fallback_application_name is used
	 * unless the DSN or PGAPPNAME names one. */
	char timeout[16];
	snprintf(timeout, sizeof(timeout), "%d", connect_timeout_s > 0 ? connect_timeout_s : 10);
	const char *keys[] = {"connect_timeout", "dbname", "fallback_application_name", NULL};
	const char *vals[] = {timeout, dsn ? dsn : "", "ironrack-regiond", NULL};
	struct db *db = xcalloc(1, sizeof(*db));

	db->conn = PQconnectdbParams(keys, vals, 1);
	if (!db->conn || PQstatus(db->conn) != CONNECTION_OK) {
		const char *msg = db->conn ? PQerrorMessage(db->conn) : "out of memory";
		snprintf(err, errlen, "connecting to the database: %.*s", (int)strcspn(msg, "\n"), msg);
		db_close(db);
		return -EIO;
	}
	PQsetNoticeProcessor(db->conn, db_notice, NULL);
	*ret = db;
	return 0;
}

int db_open(const char *dsn, struct db **ret, char *err, size_t errlen)
{
	struct db *db;
	int r = db_connect(dsn, 10, &db, err, errlen);
	if (r < 0)
		return r;
	r = migrate_run(db->conn, db_migrations, db_migrations_n, err, errlen);
	if (r < 0) {
		db_close(db);
		return r;
	}
	*ret = db;
	return 0;
}

void db_close(struct db *db)
{
	if (!db)
		return;
	PQfinish(db->conn);
	free(db);
}

const char *db_last_error(const struct db *db)
{
	return db->last_error;
}

int db_schema_version(struct db *db)
{
	int64_t v = 0;
	int r = db_query_int64(db, "SELECT coalesce(max(version), 0) FROM schema_version", 0, NULL, &v);
	return r < 0 ? r : (int)v;
}

/* ---- racks ---- */

int db_rack_enrol(struct db *db, const char *id, const char *hostname, const char *cert_serial,
		  const char *cert_fingerprint)
{
	const char *p[] = {id, hostname, cert_serial, cert_fingerprint};
	if (!id || !hostname || !cert_serial || !cert_fingerprint)
		return -EINVAL;
	/* In a transaction so a lost connection is noticed by BEGIN, which
	 * is retried, rather than by the INSERT, which must not be. */
	int r = db_begin(db);
	if (r == 0)
		r = db_exec(db,
			    "INSERT INTO rack (id, hostname, cert_serial, cert_fingerprint) "
			    "VALUES ($1, $2, $3, $4)",
			    4, p, NULL);
	if (r == 0)
		r = db_commit(db);
	return r < 0 ? db_rollback(db, r) : 0;
}

int db_rack_exists(struct db *db, const char *id)
{
	const char *p[] = {id};
	char *v = NULL;
	int r = db_query_value(db, "SELECT 1 FROM rack WHERE id = $1", 1, p, &v);
	free(v);
	return r == -ENOENT ? 0 : r == 0 ? 1 : r;
}

int db_rack_delete(struct db *db, const char *id)
{
	const char *p[] = {id};
	PGresult *res;
	int r = db_exec(db, "DELETE FROM rack WHERE id = $1", 1, p, &res);
	if (r < 0)
		return r;
	r = db_affected(res) > 0 ? 0 : -ENOENT;
	PQclear(res);
	return r;
}

/* Addresses travel as one space-separated parameter (string_to_array in
 * SQL), so an address may not contain the separator itself. */
static int db_iface_addresses(const struct rack_iface *ifc, char **ret)
{
	size_t len = 1;
	if (ifc->n_addresses > DB_RACK_ADDRESSES_MAX)
		return -EINVAL;
	for (size_t i = 0; i < ifc->n_addresses; i++) {
		const char *a = ifc->addresses[i];
		if (!a || !*a || strpbrk(a, " \t\r\n"))
			return -EINVAL;
		len += strlen(a) + 1;
	}
	char *buf = xmalloc(len), *o = buf;
	*o = '\0';
	for (size_t i = 0; i < ifc->n_addresses; i++)
		o += sprintf(o, "%s%s", i ? " " : "", ifc->addresses[i]);
	*ret = buf;
	return 0;
}

static int db_iface_insert(struct db *db, const char *rack_id, const struct rack_iface *ifc)
{
	char vlan[16], *addrs = NULL;
	const char *p[] = {rack_id, ifc->name, ifc->mac ? ifc->mac : "", NULL, vlan};

	if (!ifc->name || !*ifc->name)
		return -EINVAL;
	int r = db_iface_addresses(ifc, &addrs);
	if (r < 0)
		return r;
	p[3] = addrs;
	snprintf(vlan, sizeof(vlan), "%" PRIu32, ifc->vlan);
	r = db_exec(db,
		    "INSERT INTO rack_interface (rack_id, name, mac, addresses, vlan) "
		    "VALUES ($1, $2, nullif($3, '')::macaddr, string_to_array($4, ' ')::inet[], $5::int)",
		    5, p, NULL);
	free(addrs);
	/* A second interface of the same name is bad input, not a clash. */
	return r == -EEXIST ? -EINVAL : r;
}

int db_rack_register(struct db *db, const char *id, const char *hostname, const char *version,
		     const struct rack_iface *ifaces, size_t n)
{
	const char *p[] = {id, hostname, version ? version : ""};
	PGresult *res;

	if (!id || !hostname || n > DB_RACK_IFACES_MAX)
		return -EINVAL;
	int r = db_begin(db);
	if (r == 0)
		r = db_exec(db, "UPDATE rack SET hostname = $2, version = $3, registered_at = now() WHERE id = $1", 3,
			    p, &res);
	if (r == 0) {
		r = db_affected(res) == 1 ? 0 : -ENOENT;
		PQclear(res);
	}
	if (r == 0)
		r = db_exec(db, "DELETE FROM rack_interface WHERE rack_id = $1", 1, p, NULL);
	for (size_t i = 0; i < n && r == 0; i++)
		r = db_iface_insert(db, id, &ifaces[i]);
	if (r == 0)
		r = db_commit(db);
	return r < 0 ? db_rollback(db, r) : 0;
}

int db_rack_seen(struct db *db, const char *id, bool connected, const char *region_name)
{
	const char *p[] = {id, connected ? "true" : "false", region_name ? region_name : ""};
	PGresult *res;

	/* A disconnect only clears the session if this region still holds
	 * it: the rack may already have reconnected to another region. */
	int r = db_exec(db,
			"UPDATE rack SET last_seen = now(), "
			"connected = CASE WHEN $2::boolean THEN true "
			"WHEN connected_region = $3 THEN false ELSE connected END, "
			"connected_region = CASE WHEN $2::boolean THEN $3 "
			"WHEN connected_region = $3 THEN '' ELSE connected_region END "
			"WHERE id = $1",
			3, p, &res);
	if (r < 0)
		return r;
	r = db_affected(res) == 1 ? 0 : -ENOENT;
	PQclear(res);
	return r;
}

int db_racks_disconnect_region(struct db *db, const char *region_name)
{
	const char *p[] = {region_name ? region_name : ""};
	PGresult *res;
	int r = db_exec(db,
			"UPDATE rack SET connected = false, connected_region = '' "
			"WHERE connected AND connected_region = $1",
			1, p, &res);
	if (r < 0)
		return r;
	r = (int)db_affected(res);
	PQclear(res);
	return r;
}

/* ---- reading racks ---- */

/* One row per interface (or one with NULL interface columns), ordered by
 * rack, so a single statement gives a consistent picture. $1 NULL = all. */
static const char db_rack_select[] = "SELECT r.id, r.hostname, r.version, r.cert_fingerprint, "
				     "(extract(epoch FROM r.enrolled_at) * 1000)::bigint, "
				     "coalesce((extract(epoch FROM r.registered_at) * 1000)::bigint, 0), "
				     "coalesce((extract(epoch FROM r.last_seen) * 1000)::bigint, 0), "
				     "r.connected, r.connected_region, "
				     "coalesce((SELECT max(c.version) FROM rack_config c WHERE c.rack_id = r.id), 0), "
				     "r.acked_config_version, "
				     "i.name, coalesce(i.mac::text, ''), "
				     "array_to_string(ARRAY(SELECT host(a) || '/' || masklen(a) "
				     "FROM unnest(i.addresses) WITH ORDINALITY AS u(a, n) ORDER BY n), ' '), "
				     "i.vlan "
				     "FROM rack r LEFT JOIN rack_interface i ON i.rack_id = r.id "
				     "WHERE $1::text IS NULL OR r.id = $1 "
				     "ORDER BY r.id, i.name";

enum {
	COL_ID,
	COL_HOSTNAME,
	COL_VERSION,
	COL_FINGERPRINT,
	COL_ENROLLED,
	COL_REGISTERED,
	COL_SEEN,
	COL_CONNECTED,
	COL_REGION,
	COL_CONFIG_VERSION,
	COL_ACKED_VERSION,
	COL_IF_NAME,
	COL_IF_MAC,
	COL_IF_ADDRESSES,
	COL_IF_VLAN,
};

static char *db_str(const PGresult *res, int row, int col, bool *oom)
{
	char *s = strdup(PQgetvalue(res, row, col));
	if (!s)
		*oom = true;
	return s;
}

static void db_iface_done(struct rack_iface *ifc)
{
	free(ifc->name);
	free(ifc->mac);
	for (size_t i = 0; i < ifc->n_addresses; i++)
		free(ifc->addresses[i]);
	free(ifc->addresses);
	memset(ifc, 0, sizeof(*ifc));
}

static int db_iface_from(const PGresult *res, int row, struct rack_iface *ifc)
{
	bool oom = false;
	const char *list = PQgetvalue(res, row, COL_IF_ADDRESSES);
	size_t n = *list ? 1 : 0;

	for (const char *c = list; *c; c++)
		n += *c == ' ';
	ifc->name = db_str(res, row, COL_IF_NAME, &oom);
	ifc->mac = db_str(res, row, COL_IF_MAC, &oom);
	ifc->vlan = (uint32_t)strtoul(PQgetvalue(res, row, COL_IF_VLAN), NULL, 10);
	ifc->addresses = calloc(n ? n : 1, sizeof(char *));
	oom |= !ifc->addresses;
	for (const char *c = list; !oom && ifc->n_addresses < n; ifc->n_addresses++) {
		size_t len = strcspn(c, " ");
		ifc->addresses[ifc->n_addresses] = strndup(c, len);
		oom |= !ifc->addresses[ifc->n_addresses];
		c += len + (c[len] == ' ');
	}
	return oom ? -ENOMEM : 0;
}

static int db_rack_from(const PGresult *res, int row, struct rack_row *rk)
{
	bool oom = false;

	memset(rk, 0, sizeof(*rk));
	rk->id = db_str(res, row, COL_ID, &oom);
	rk->hostname = db_str(res, row, COL_HOSTNAME, &oom);
	rk->version = db_str(res, row, COL_VERSION, &oom);
	rk->cert_fingerprint = db_str(res, row, COL_FINGERPRINT, &oom);
	rk->enrolled_ms = strtoll(PQgetvalue(res, row, COL_ENROLLED), NULL, 10);
	rk->registered_ms = strtoll(PQgetvalue(res, row, COL_REGISTERED), NULL, 10);
	rk->last_seen_ms = strtoll(PQgetvalue(res, row, COL_SEEN), NULL, 10);
	rk->connected = PQgetvalue(res, row, COL_CONNECTED)[0] == 't';
	rk->connected_region = db_str(res, row, COL_REGION, &oom);
	rk->config_version = strtoull(PQgetvalue(res, row, COL_CONFIG_VERSION), NULL, 10);
	rk->acked_config_version = strtoull(PQgetvalue(res, row, COL_ACKED_VERSION), NULL, 10);
	return oom ? -ENOMEM : 0;
}

/* Convert the rows of db_rack_select into racks with their interfaces. */
static int db_racks_from(const PGresult *res, struct rack_row **ret, size_t *ret_n)
{
	int rows = PQntuples(res);
	struct rack_row *racks = calloc(rows ? (size_t)rows : 1, sizeof(*racks));
	size_t n = 0;
	int r = racks ? 0 : -ENOMEM;

	for (int i = 0; i < rows && r == 0; i++) {
		struct rack_row *rk = n ? &racks[n - 1] : NULL;
		if (!rk || strcmp(rk->id, PQgetvalue(res, i, COL_ID)) != 0) {
			rk = &racks[n++];
			r = db_rack_from(res, i, rk);
			/* The rack's rows are consecutive, one per interface. */
			int end = i + 1;
			while (end < rows && strcmp(PQgetvalue(res, end, COL_ID), rk->id ? rk->id : "") == 0)
				end++;
			rk->ifaces = calloc((size_t)(end - i), sizeof(*rk->ifaces));
			if (r == 0 && !rk->ifaces)
				r = -ENOMEM;
		}
		if (r == 0 && !PQgetisnull(res, i, COL_IF_NAME))
			r = db_iface_from(res, i, &rk->ifaces[rk->n_ifaces++]);
	}
	if (r < 0) {
		db_rack_rows_free(racks, n);
		return r;
	}
	*ret = racks;
	*ret_n = n;
	return 0;
}

int db_rack_list(struct db *db, struct rack_row **ret, size_t *ret_n)
{
	const char *p[] = {NULL};
	PGresult *res;
	int r = db_exec(db, db_rack_select, 1, p, &res);
	if (r < 0)
		return r;
	r = db_racks_from(res, ret, ret_n);
	PQclear(res);
	return r;
}

int db_rack_get(struct db *db, const char *id, struct rack_row *ret)
{
	const char *p[] = {id};
	struct rack_row *rows = NULL;
	size_t n = 0;
	PGresult *res;

	if (!id)
		return -EINVAL;
	int r = db_exec(db, db_rack_select, 1, p, &res);
	if (r < 0)
		return r;
	r = db_racks_from(res, &rows, &n);
	PQclear(res);
	if (r == 0 && n == 0)
		r = -ENOENT;
	if (r == 0) {
		*ret = rows[0];
		memset(&rows[0], 0, sizeof(rows[0]));
	}
	db_rack_rows_free(rows, n);
	return r;
}

void db_rack_row_done(struct rack_row *row)
{
	if (!row)
		return;
	free(row->id);
	free(row->hostname);
	free(row->version);
	free(row->cert_fingerprint);
	free(row->connected_region);
	for (size_t i = 0; i < row->n_ifaces; i++)
		db_iface_done(&row->ifaces[i]);
	free(row->ifaces);
	memset(row, 0, sizeof(*row));
}

void db_rack_rows_free(struct rack_row *rows, size_t n)
{
	if (!rows)
		return;
	for (size_t i = 0; i < n; i++)
		db_rack_row_done(&rows[i]);
	free(rows);
}

/* ---- API keys ---- */

static int db_apikey_hash(const char *key, char out[2 * EVP_MAX_MD_SIZE + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	if (EVP_Digest(key, strlen(key), md, &len, EVP_sha256(), NULL) != 1)
		return -EIO;
	hex_encode(md, len, out);
	return 0;
}

int db_apikey_create(struct db *db, const char *name, char **ret_key)
{
	unsigned char rnd[DB_APIKEY_RANDOM_BYTES];
	char key[DB_APIKEY_LEN + 1], hash[2 * EVP_MAX_MD_SIZE + 1];
	const char *p[] = {name, hash};

	if (!name || !*name)
		return -EINVAL;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -EIO;
	memcpy(key, DB_APIKEY_PREFIX, sizeof(DB_APIKEY_PREFIX) - 1);
	hex_encode(rnd, sizeof(rnd), key + sizeof(DB_APIKEY_PREFIX) - 1);
	int r = db_apikey_hash(key, hash);
	if (r == 0)
		r = db_begin(db);
	if (r == 0)
		r = db_exec(db, "INSERT INTO api_key (name, key_hash) VALUES ($1, $2)", 2, p, NULL);
	if (r == 0)
		r = db_commit(db);
	if (r < 0)
		return db_rollback(db, r);
	*ret_key = xstrdup(key);
	return 0;
}

static bool db_apikey_well_formed(const char *key)
{
	if (strlen(key) != DB_APIKEY_LEN || strncmp(key, DB_APIKEY_PREFIX, sizeof(DB_APIKEY_PREFIX) - 1) != 0)
		return false;
	return strspn(key + sizeof(DB_APIKEY_PREFIX) - 1, "0123456789abcdef") == 2 * DB_APIKEY_RANDOM_BYTES;
}

int db_apikey_check(struct db *db, const char *key, char *ret_name, size_t name_len)
{
	char hash[2 * EVP_MAX_MD_SIZE + 1];
	const char *p[] = {hash};
	char *name = NULL;

	if (!key || !db_apikey_well_formed(key))
		return -EACCES;
	int r = db_apikey_hash(key, hash);
	if (r < 0)
		return r;
	/* last_used is kept to the minute so that checking a key is not a
	 * write on every API request. */
	r = db_query_value(db,
			   "WITH k AS (SELECT id, name, last_used FROM api_key WHERE key_hash = $1), "
			   "u AS (UPDATE api_key a SET last_used = now() FROM k WHERE a.id = k.id "
			   "AND (k.last_used IS NULL OR k.last_used < now() - interval '1 minute') RETURNING a.id) "
			   "SELECT name FROM k LIMIT 1",
			   1, p, &name);
	if (r == -ENOENT)
		return -EACCES;
	if (r < 0)
		return r;
	if (!name)
		return -EACCES;
	if (ret_name)
		snprintf(ret_name, name_len, "%s", name);
	free(name);
	return 0;
}

int db_apikey_revoke(struct db *db, const char *name, long *ret_n)
{
	const char *p[] = {name};
	PGresult *res;

	if (!name || !*name)
		return -EINVAL;
	int r = db_exec(db, "DELETE FROM api_key WHERE name = $1", 1, p, &res);
	if (r < 0)
		return r;
	*ret_n = db_affected(res);
	PQclear(res);
	return *ret_n > 0 ? 0 : -ENOENT;
}

int db_apikey_count(struct db *db, long *ret)
{
	int64_t n = 0;
	int r = db_query_int64(db, "SELECT count(*) FROM api_key", 0, NULL, &n);
	if (r == 0)
		*ret = (long)n;
	return r;
}
