/* The image registry in the database; see image_db.h. */
#include "region/db/image_db.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/db/db_internal.h"

#define COLS                                                                                                           \
	"id, name, arch, format, sha256, size, status, uploaded, description, "                                        \
	"to_char(created AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

static void row_from(const PGresult *res, int i, struct image_row *r)
{
	memset(r, 0, sizeof(*r));
	r->id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
	snprintf(r->name, sizeof(r->name), "%s", PQgetvalue(res, i, 1));
	snprintf(r->arch, sizeof(r->arch), "%s", PQgetvalue(res, i, 2));
	snprintf(r->format, sizeof(r->format), "%s", PQgetvalue(res, i, 3));
	snprintf(r->sha256, sizeof(r->sha256), "%s", PQgetvalue(res, i, 4));
	r->size = strtoll(PQgetvalue(res, i, 5), NULL, 10);
	snprintf(r->status, sizeof(r->status), "%s", PQgetvalue(res, i, 6));
	r->uploaded = strtoll(PQgetvalue(res, i, 7), NULL, 10);
	snprintf(r->description, sizeof(r->description), "%s", PQgetvalue(res, i, 8));
	snprintf(r->created, sizeof(r->created), "%s", PQgetvalue(res, i, 9));
}

/* One row or -ENOENT. */
static int one_row(struct db *db, const char *sql, int n, const char *const *p, struct image_row *ret)
{
	PGresult *res;
	int r = db_query_row(db, sql, n, p, &res);
	if (r < 0)
		return r;
	row_from(res, 0, ret);
	PQclear(res);
	return 0;
}

int image_db_get(struct db *db, const char *name, struct image_row *ret)
{
	const char *p[] = {name};
	return one_row(db, "SELECT " COLS " FROM image WHERE name = $1", 1, p, ret);
}

int image_db_lock(struct db *db, const char *name, struct image_row *ret)
{
	const char *p[] = {name};
	return one_row(db, "SELECT " COLS " FROM image WHERE name = $1 FOR UPDATE", 1, p, ret);
}

int image_db_list(struct db *db, struct image_row **ret, size_t *ret_n)
{
	PGresult *res;
	int r = db_exec(db, "SELECT " COLS " FROM image ORDER BY name", 0, NULL, &res);
	if (r < 0)
		return r;
	size_t n = (size_t)PQntuples(res);
	struct image_row *rows = xcalloc(n ? n : 1, sizeof(*rows));
	for (size_t i = 0; i < n; i++)
		row_from(res, (int)i, &rows[i]);
	PQclear(res);
	*ret = rows;
	*ret_n = n;
	return 0;
}

int image_db_create(struct db *db, const struct image_row *in, struct image_row *ret)
{
	char size[24];
	db_id_text(in->size, size);
	const char *p[] = {in->name, in->arch[0] ? in->arch : "amd64", in->format, in->sha256, size, in->description};
	return one_row(db,
		       "INSERT INTO image (name, arch, format, sha256, size, description) "
		       "VALUES ($1, $2, $3, $4, $5::bigint, $6) RETURNING " COLS,
		       6, p, ret);
}

/* A conditional write that touched nothing: -ENOENT if the image is gone,
 * else -EAGAIN. */
static int touched(struct db *db, PGresult *res, int64_t id)
{
	long n = db_affected(res);
	PQclear(res);
	if (n > 0)
		return 0;
	char ids[24];
	char *v = NULL;
	db_id_text(id, ids);
	const char *p[] = {ids};
	int r = db_query_value(db, "SELECT id FROM image WHERE id = $1::bigint", 1, p, &v);
	free(v);
	return r < 0 ? r : -EAGAIN;
}

int image_db_set_uploaded(struct db *db, int64_t id, int64_t from, int64_t to)
{
	char ids[24], f[24], t[24];
	PGresult *res;
	db_id_text(id, ids);
	db_id_text(from, f);
	db_id_text(to, t);
	const char *p[] = {ids, f, t};
	int r = db_exec(db,
			"UPDATE image SET uploaded = $3::bigint "
			"WHERE id = $1::bigint AND status = 'uploading' AND uploaded = $2::bigint",
			3, p, &res);
	return r < 0 ? r : touched(db, res, id);
}

int image_db_mark_ready(struct db *db, int64_t id)
{
	char ids[24];
	PGresult *res;
	db_id_text(id, ids);
	const char *p[] = {ids};
	int r = db_exec(db,
			"UPDATE image SET status = 'ready' "
			"WHERE id = $1::bigint AND status = 'uploading' AND uploaded = size",
			1, p, &res);
	return r < 0 ? r : touched(db, res, id);
}

int image_db_delete(struct db *db, int64_t id, char *ret_host, size_t len)
{
	char ids[24];
	char *host = NULL;
	PGresult *res;
	db_id_text(id, ids);
	const char *p[] = {ids};
	/* The image row first, so that a deploy starting now waits for us. */
	int r = db_exec(db, "SELECT id FROM image WHERE id = $1::bigint FOR UPDATE", 1, p, &res);
	if (r < 0)
		return r;
	int found = PQntuples(res);
	PQclear(res);
	if (!found)
		return -ENOENT;
	r = db_query_value(db,
			   "SELECT m.hostname FROM machine_deploy d JOIN machine m ON m.id = d.machine_id "
			   "WHERE d.image_id = $1::bigint AND m.status = 'DEPLOYING' ORDER BY m.hostname LIMIT 1",
			   1, p, &host);
	if (r == 0) {
		snprintf(ret_host, len, "%s", host);
		free(host);
		return -EBUSY;
	}
	if (r != -ENOENT)
		return r;
	r = db_exec(db, "DELETE FROM image WHERE id = $1::bigint", 1, p, &res);
	return r < 0 ? r : touched(db, res, id);
}
