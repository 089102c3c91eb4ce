/* Re-sealing the secrets at rest with a new key (region/db/secret_db.h). */
#include "region/db/secret_db.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "region/db/db.h"
#include "region/db/db_internal.h"
#include "region/secret.h"

/* The blob header a key seals with: version byte and key id, as hex. */
static void header_hex(uint32_t key_id, char out[2 * SECRET_BLOB_HEADER + 1])
{
	uint8_t h[SECRET_BLOB_HEADER] = {SECRET_BLOB_V1, (uint8_t)(key_id >> 24), (uint8_t)(key_id >> 16),
					 (uint8_t)(key_id >> 8), (uint8_t)key_id};
	hex_encode(h, sizeof(h), out);
}

static void failed_add(int64_t **failed, size_t *n, int64_t id)
{
	for (size_t i = 0; i < *n; i++)
		if ((*failed)[i] == id)
			return;
	*failed = xreallocarray(*failed, *n + 1, sizeof(**failed));
	(*failed)[(*n)++] = id;
}

/* Re-seal one row's blob (hex text) for the machine; 1 done, 0 it did not
 * open (left alone), -errno. */
static int reseal_row(struct db *db, struct secret_box *box, int64_t id, const char *hex)
{
	size_t hlen = strlen(hex);
	uint8_t *blob = xmalloc(hlen / 2 + 1), *sealed = NULL;
	size_t sealed_len = 0;
	char aad[SECRET_AAD_MAX], *plain = NULL;
	int n = hex_decode(hex, hlen, blob, hlen / 2 + 1);

	secret_aad_format(aad, sizeof(aad), "machine", id, "power_pass");
	int r = n < 0 ? -EBADMSG : secret_box_unseal(box, aad, blob, (size_t)n, &plain);
	free(blob);
	if (r == -EBADMSG || r == -ENOKEY)
		return 0;
	if (r < 0)
		return r;
	r = secret_box_seal(box, aad, plain, &sealed, &sealed_len);
	secret_free(plain);
	if (r < 0)
		return r;
	char ids[24], *newhex = xmalloc(2 * sealed_len + 1);
	hex_encode(sealed, sealed_len, newhex);
	free(sealed);
	snprintf(ids, sizeof(ids), "%" PRId64, id);
	const char *p[] = {ids, newhex};
	r = db_exec(db, "UPDATE machine SET power_secret = decode($2, 'hex') WHERE id = $1::bigint", 2, p, NULL);
	free(newhex);
	return r < 0 ? r : 1;
}

int db_secret_reseal(struct db *db, struct secret_box *box, long *ret_n, int64_t **failed, size_t *n_failed)
{
	char head[2 * SECRET_BLOB_HEADER + 1];
	const char *p[] = {head};
	PGresult *res = NULL;
	long done = 0;

	*ret_n = 0;
	header_hex(secret_box_current(box), head);
	int r = db_begin(db);
	if (r < 0)
		return r;
	/* Rows locked until commit: a region writing one meanwhile waits, and
	 * whatever it writes is for the second pass to look at. */
	r = db_exec(db,
		    "SELECT id, encode(power_secret, 'hex') FROM machine "
		    "WHERE power_secret IS NOT NULL AND substring(power_secret FROM 1 FOR 5) <> decode($1, 'hex') "
		    "ORDER BY id FOR UPDATE",
		    1, p, &res);
	for (int i = 0; r == 0 && i < PQntuples(res); i++) {
		int64_t id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		int one = reseal_row(db, box, id, PQgetvalue(res, i, 1));
		if (one < 0)
			r = one;
		else if (one == 0)
			failed_add(failed, n_failed, id);
		else
			done++;
	}
	PQclear(res);
	if (r < 0)
		return db_rollback(db, r);
	if ((r = db_commit(db)) < 0)
		return r;
	*ret_n = done;
	return 0;
}

int db_secret_key_uses(struct db *db, uint32_t **ret_ids, long **ret_counts, size_t *ret_n, long *ret_unreadable)
{
	PGresult *res = NULL;
	*ret_ids = NULL;
	*ret_counts = NULL;
	*ret_n = 0;
	*ret_unreadable = 0;
	int r = db_exec(db,
			"SELECT encode(substring(power_secret FROM 1 FOR 5), 'hex') AS head, count(*) FROM machine "
			"WHERE power_secret IS NOT NULL GROUP BY head ORDER BY head",
			0, NULL, &res);
	if (r < 0)
		return r;
	int rows = PQntuples(res);
	uint32_t *ids = xcalloc(rows ? (size_t)rows : 1, sizeof(*ids));
	long *counts = xcalloc(rows ? (size_t)rows : 1, sizeof(*counts));
	size_t n = 0;
	for (int i = 0; i < rows; i++) {
		uint8_t h[SECRET_BLOB_HEADER];
		const char *hex = PQgetvalue(res, i, 0);
		long count = strtol(PQgetvalue(res, i, 1), NULL, 10);
		if (strlen(hex) != 2 * SECRET_BLOB_HEADER || hex_decode(hex, strlen(hex), h, sizeof(h)) < 0 ||
		    h[0] != SECRET_BLOB_V1) {
			*ret_unreadable += count;
			continue;
		}
		ids[n] = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];
		counts[n++] = count; /* big-endian hex sorts as the ids do */
	}
	PQclear(res);
	*ret_ids = ids;
	*ret_counts = counts;
	*ret_n = n;
	return 0;
}

static long uses_of(const uint32_t *ids, const long *counts, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return counts[i];
	return 0;
}

int secret_rotate(struct db *db, struct secret_box *box, bool purge, struct secret_rotation *ret, char *err,
		  size_t errlen)
{
	memset(ret, 0, sizeof(*ret));
	int r = secret_box_rotate(box, &ret->key_id, err, errlen);
	if (r < 0)
		return r;
	long n = 0;
	if ((r = db_secret_reseal(db, box, &n, &ret->failed, &ret->n_failed)) < 0)
		goto db_fail;
	ret->resealed = n;
	/* A region that sealed with the previous key between our creating the
	 * new one and its noticing it: its rows are caught here. */
	if ((r = db_secret_reseal(db, box, &n, &ret->failed, &ret->n_failed)) < 0)
		goto db_fail;
	ret->resealed += n;
	ret->resealed_late = n;

	uint32_t *used = NULL, *held = NULL;
	long *counts = NULL;
	size_t n_used = 0, n_held = 0;
	if ((r = db_secret_key_uses(db, &used, &counts, &n_used, &ret->unreadable)) < 0)
		goto db_fail;
	secret_box_key_ids(box, &held, &n_held);
	uint32_t current = secret_box_current(box);
	ret->old_keys = xcalloc(n_held ? n_held : 1, sizeof(*ret->old_keys));
	ret->old_key_uses = xcalloc(n_held ? n_held : 1, sizeof(*ret->old_key_uses));
	ret->old_removed = xcalloc(n_held ? n_held : 1, sizeof(*ret->old_removed));
	for (size_t i = 0; i < n_held; i++) {
		if (held[i] == current)
			continue;
		size_t k = ret->n_old++;
		ret->old_keys[k] = held[i];
		ret->old_key_uses[k] = uses_of(used, counts, n_used, held[i]);
		if (purge && ret->old_key_uses[k] == 0 && secret_box_remove_key(box, held[i]) == 0)
			ret->old_removed[k] = true;
	}
	free(used);
	free(counts);
	free(held);
	return 0;
db_fail:
	err_set(err, errlen, "database: %s", db_last_error(db));
	return r;
}

void secret_rotation_done(struct secret_rotation *r)
{
	if (!r)
		return;
	free(r->failed);
	free(r->old_keys);
	free(r->old_key_uses);
	free(r->old_removed);
	memset(r, 0, sizeof(*r));
}
