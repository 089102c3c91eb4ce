/* Rotating the key that seals the region's secrets at rest
 * (`ironrack-regiond rotate-secret-key`, docs/operations.md "Secrets").
 *
 * The columns that hold blobs of region/secret.h: machine.power_secret,
 * bound to "machine:ID:power_pass". A new secret column joins the queries
 * of secret_db.c, or a rotation would leave it on an old key and a purge
 * would delete the key it needs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;
struct secret_box;

struct secret_rotation {
	uint32_t key_id;    /* the key created and sealed with */
	long resealed;	    /* secrets re-encrypted, both passes */
	long resealed_late; /* of those, in the second pass (written meanwhile) */
	int64_t *failed;    /* machines whose secret did not open: left as is */
	size_t n_failed;
	uint32_t *old_keys; /* the older keys, ascending */
	long *old_key_uses; /* secrets still sealed with each */
	bool *old_removed;  /* its file was deleted (purge) */
	size_t n_old;
	long unreadable; /* secrets that are not blobs at all */
};

/* Create the next key; re-seal with it every secret sealed with another
 * key, in one transaction; then once more for those a running region
 * sealed with an older key meanwhile. With purge, delete the files of
 * older keys no secret uses any more. Returns 0 with *ret filled in (also
 * when some secrets did not open: ret->n_failed), or -errno: -EIO for the
 * database (db_last_error), else from the keyring (err says). */
int secret_rotate(struct db *db, struct secret_box *box, bool purge, struct secret_rotation *ret, char *err,
		  size_t errlen);
void secret_rotation_done(struct secret_rotation *r);

/* Re-seal with the box's current key every secret not sealed with it, in
 * one transaction. *ret_n: how many; machines whose secret does not open
 * are added to *failed (if not there yet) and left as they are. */
int db_secret_reseal(struct db *db, struct secret_box *box, long *ret_n, int64_t **failed, size_t *n_failed);
/* How many secrets each key seals: ids ascending, *ret_n of them
 * (malloc'd arrays); *ret_unreadable: secrets that are not blobs. */
int db_secret_key_uses(struct db *db, uint32_t **ret_ids, long **ret_counts, size_t *ret_n, long *ret_unreadable);
