/* Secrets at rest: the region's keyring of AES-256-GCM keys and the
 * sealed blobs the database keeps (machine.power_secret).
 *
 * Keys live in state_dir/secrets/key-N (32 random bytes, mode 0600, the
 * directory 0700), created on first use; the highest N is the current key,
 * which seals. Older keys stay to open what they sealed until
 * `ironrack-regiond rotate-secret-key` has re-sealed every row with a newer
 * one (docs/operations.md, "Secrets").
 *
 * A blob is: a magic/version byte (SECRET_BLOB_V1), the key id (4 bytes,
 * big-endian), a random 12-byte nonce, the ciphertext, the 16-byte GCM tag.
 * The associated data is the blob's first 5 bytes and the caller's aad,
 * which names the row and field the secret belongs to
 * (secret_aad_format: "machine:42:power_pass"): a blob copied to another
 * row or field does not open.
 *
 * Thread-safe: seal and unseal may run on several database workers at
 * once. The keyring is read-mostly; a reload (another process added a key)
 * takes it exclusively for a moment. Library code: it does not log. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define SECRET_KEY_LEN	     32
#define SECRET_NONCE_LEN     12
#define SECRET_TAG_LEN	     16
#define SECRET_BLOB_V1	     0xa1
#define SECRET_BLOB_HEADER   5 /* version + key id */
#define SECRET_BLOB_OVERHEAD (SECRET_BLOB_HEADER + SECRET_NONCE_LEN + SECRET_TAG_LEN)
#define SECRET_PLAIN_MAX     4096 /* longest secret sealed */
#define SECRET_AAD_MAX	     128

struct secret_box;

/* Load the keys of state_dir/secrets, creating the directory and key-1
 * when there are none. -EACCES with err saying which when a key file or
 * the directory can be read by group or others; -EINVAL for a key file of
 * the wrong size; other -errno from the file system. */
int secret_box_open(const char *state_dir, struct secret_box **ret, char *err, size_t errlen);
/* Zeroes the keys. NULL is fine. */
void secret_box_free(struct secret_box *b);

/* The id of the key that seals now. */
uint32_t secret_box_current(struct secret_box *b);

/* Seal plaintext (a NUL-terminated string, at most SECRET_PLAIN_MAX
 * bytes, else -EMSGSIZE) for aad. *ret_blob is malloc'd, *ret_len bytes.
 * A key another process added since is picked up first. */
int secret_box_seal(struct secret_box *b, const char *aad, const char *plaintext, uint8_t **ret_blob, size_t *ret_len);
/* Open a blob sealed for aad: *ret_plaintext is malloc'd and
 * NUL-terminated; free it with secret_free. -EBADMSG: not a blob of a
 * known version, truncated, tampered with, or sealed for another aad.
 * -ENOKEY: sealed with a key this keyring does not have, even after
 * reloading the directory once. */
int secret_box_unseal(struct secret_box *b, const char *aad, const uint8_t *blob, size_t len, char **ret_plaintext);

/* Create the next key (one more than the highest on disk or held) and make
 * it current; its id in *ret_id. Two processes rotating at once get
 * different ids. err says what failed. */
int secret_box_rotate(struct secret_box *b, uint32_t *ret_id, char *err, size_t errlen);

/* The ids of the keys held, ascending (malloc'd, *ret_n of them). */
void secret_box_key_ids(struct secret_box *b, uint32_t **ret_ids, size_t *ret_n);
/* Delete key id's file and forget it: only for a key no blob uses any
 * more. -EBUSY for the current key, -ENOENT for one not held. */
int secret_box_remove_key(struct secret_box *b, uint32_t id);

/* The key id a blob names; -EBADMSG if it is not a blob. */
int secret_blob_key_id(const uint8_t *blob, size_t len, uint32_t *ret);

/* Zero and free a plaintext from secret_box_unseal. NULL is fine. */
void secret_free(char *plaintext);

/* The aad of a row's field: "machine:42:power_pass". */
void secret_aad_format(char *buf, size_t len, const char *table, int64_t id, const char *field);
