/* Configuration snapshots of racks: every version pushed to a rack is kept
 * (settings, boot configs, the packed DHCP config), so the version a rack
 * acknowledges names one exact snapshot. */
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/db/db.h"
#include "region/db/db_internal.h"

int db_rack_config_put(struct db *db, const char *rack_id, const char *settings_json, uint64_t *ret_version)
{
	return db_rack_config_put_boot(db, rack_id, settings_json, NULL, ret_version, NULL);
}

int db_rack_config_put_boot(struct db *db, const char *rack_id, const char *settings_json,
			    const char *boot_configs_json, uint64_t *ret_version, char **ret_boot_configs_json)
{
	const char *p[] = {rack_id, settings_json, boot_configs_json};
	char *v = NULL;

	if (ret_boot_configs_json)
		*ret_boot_configs_json = NULL;
	if (!rack_id || !settings_json)
		return -EINVAL;
	int r = db_begin(db);
	/* Lock the rack row first: concurrent puts for one rack then number
	 * their versions one after the other instead of colliding. The
	 * jsonb cast rejects malformed JSON (-EINVAL via SQLSTATE 22P02). */
	if (r == 0)
		r = db_query_value(db,
				   "SELECT jsonb_typeof($2::jsonb) = 'object' AND "
				   "NOT jsonb_path_exists($2::jsonb, '$.* ? (@.type() != \"string\")') AND "
				   "($3::jsonb IS NULL OR jsonb_typeof($3::jsonb) = 'array') "
				   "FROM rack WHERE id = $1 FOR UPDATE",
				   3, p, &v);
	if (r == 0 && strcmp(v, "t") != 0)
		r = -EINVAL;
	free(v);
	v = NULL;
	/* Without new boot configs, the previous version's carry over; the
	 * DHCP config always does (only region/dhcp changes it). */
	if (r == 0)
		r = db_query_value(db,
				   "INSERT INTO rack_config (rack_id, version, settings, boot_configs, dhcp) "
				   "SELECT $1, coalesce(max(version), 0) + 1, $2::jsonb, coalesce($3::jsonb, "
				   "(SELECT c.boot_configs FROM rack_config c WHERE c.rack_id = $1 "
				   "ORDER BY c.version DESC LIMIT 1), '[]'::jsonb), "
				   "coalesce((SELECT c.dhcp FROM rack_config c WHERE c.rack_id = $1 "
				   "ORDER BY c.version DESC LIMIT 1), '') "
				   "FROM rack_config WHERE rack_id = $1 RETURNING version",
				   3, p, &v);
	if (r == 0 && ret_boot_configs_json) {
		const char *q[] = {rack_id, v};
		r = db_query_value(db, "SELECT boot_configs::text FROM rack_config WHERE rack_id = $1 AND version = $2",
				   2, q, ret_boot_configs_json);
	}
	if (r == 0)
		r = db_commit(db);
	if (r < 0 && ret_boot_configs_json && *ret_boot_configs_json) {
		free(*ret_boot_configs_json);
		*ret_boot_configs_json = NULL;
	}
	if (r == 0 && ret_version)
		*ret_version = strtoull(v, NULL, 10);
	free(v);
	return r < 0 ? db_rollback(db, r) : 0;
}

int db_rack_config_get(struct db *db, const char *rack_id, uint64_t *ret_version, char **ret_settings_json)
{
	return db_rack_config_get_boot(db, rack_id, ret_version, ret_settings_json, NULL);
}

int db_rack_config_get_boot(struct db *db, const char *rack_id, uint64_t *ret_version, char **ret_settings_json,
			    char **ret_boot_configs_json)
{
	const char *p[] = {rack_id};
	PGresult *res;
	int r = db_exec(db,
			"SELECT version, settings::text, boot_configs::text FROM rack_config WHERE rack_id = $1 "
			"ORDER BY version DESC LIMIT 1",
			1, p, &res);
	if (r < 0)
		return r;
	if (PQntuples(res) != 1) {
		r = -ENOENT;
	} else {
		r = 0;
		*ret_settings_json = xstrdup(PQgetvalue(res, 0, 1));
		if (ret_boot_configs_json)
			*ret_boot_configs_json = xstrdup(PQgetvalue(res, 0, 2));
		if (ret_version)
			*ret_version = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	}
	PQclear(res);
	return r;
}

/* A bytea result in the server's text output format, as a malloc'd copy. */
static int db_bytea_from(const char *text, uint8_t **ret, size_t *ret_len)
{
	size_t n = 0;
	unsigned char *raw = PQunescapeBytea((const unsigned char *)text, &n);

	*ret = NULL;
	*ret_len = 0;
	if (!raw)
		return -ENOMEM;
	uint8_t *buf = xmalloc(n);
	memcpy(buf, raw, n);
	*ret = buf;
	*ret_len = n;
	PQfreemem(raw);
	return 0;
}

/* A bytea parameter in text form ("\x" + hex); malloc'd. */
static char *db_bytea_param(const uint8_t *data, size_t len)
{
	char *out = xmalloc(2 * len + 3);
	out[0] = '\\';
	out[1] = 'x';
	hex_encode(data, len, out + 2);
	return out;
}

void db_rack_config_row_done(struct rack_config_row *row)
{
	if (!row)
		return;
	free(row->settings_json);
	free(row->boot_configs_json);
	free(row->dhcp);
	memset(row, 0, sizeof(*row));
}

int db_rack_config_get_full(struct db *db, const char *rack_id, uint64_t version, struct rack_config_row *ret)
{
	char v[24];
	const char *p[] = {rack_id, v};
	PGresult *res;

	memset(ret, 0, sizeof(*ret));
	snprintf(v, sizeof(v), "%" PRIu64, version);
	int r = db_exec(db,
			"SELECT version, settings::text, boot_configs::text, dhcp FROM rack_config "
			"WHERE rack_id = $1 AND ($2::bigint = 0 OR version = $2::bigint) "
			"ORDER BY version DESC LIMIT 1",
			2, p, &res);
	if (r < 0)
		return r;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return -ENOENT;
	}
	ret->version = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	ret->settings_json = xstrdup(PQgetvalue(res, 0, 1));
	ret->boot_configs_json = xstrdup(PQgetvalue(res, 0, 2));
	r = db_bytea_from(PQgetvalue(res, 0, 3), &ret->dhcp, &ret->dhcp_len);
	PQclear(res);
	if (r < 0)
		db_rack_config_row_done(ret);
	return r;
}

int db_rack_config_put_dhcp(struct db *db, const char *rack_id, const uint8_t *dhcp, size_t len, uint64_t *ret_version)
{
	char *hex = db_bytea_param(dhcp, len);
	const char *p[] = {rack_id, hex};
	char *v = NULL;

	int r = db_begin(db);
	/* The rack row lock orders this against db_rack_config_put_boot. */
	if (r == 0)
		r = db_query_value(
		    db,
		    "SELECT coalesce((SELECT c.dhcp = $2::bytea FROM rack_config c WHERE c.rack_id = $1 "
		    "ORDER BY c.version DESC LIMIT 1), $2::bytea = '') FROM rack WHERE id = $1 FOR UPDATE",
		    2, p, &v);
	bool same = r == 0 && strcmp(v, "t") == 0;
	free(v);
	v = NULL;
	if (r == 0 && !same)
		r = db_query_value(db,
				   "INSERT INTO rack_config (rack_id, version, settings, boot_configs, dhcp) "
				   "SELECT $1, coalesce(max(version), 0) + 1, "
				   "coalesce((SELECT c.settings FROM rack_config c WHERE c.rack_id = $1 "
				   "ORDER BY c.version DESC LIMIT 1), '{}'::jsonb), "
				   "coalesce((SELECT c.boot_configs FROM rack_config c WHERE c.rack_id = $1 "
				   "ORDER BY c.version DESC LIMIT 1), '[]'::jsonb), $2::bytea "
				   "FROM rack_config WHERE rack_id = $1 RETURNING version",
				   2, p, &v);
	if (r == 0)
		r = db_commit(db);
	free(hex);
	if (r < 0) {
		free(v);
		return db_rollback(db, r);
	}
	if (ret_version)
		*ret_version = v ? strtoull(v, NULL, 10) : 0;
	free(v);
	return same ? 0 : 1;
}

int db_rack_config_acked(struct db *db, const char *rack_id, uint64_t version)
{
	char v[24];
	const char *p[] = {rack_id, v};
	PGresult *res;

	snprintf(v, sizeof(v), "%" PRIu64, version);
	/* Acks can overtake each other; never step back to an older one. */
	int r = db_exec(db,
			"UPDATE rack SET acked_config_version = greatest(acked_config_version, $2::bigint), "
			"acked_at = now() WHERE id = $1",
			2, p, &res);
	if (r < 0)
		return r;
	r = db_affected(res) == 1 ? 0 : -ENOENT;
	PQclear(res);
	return r;
}
