/* The region's keyring and sealed blobs (region/secret.h). */
#include "region/secret.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/util.h"

#define SECRET_DIR	 "secrets"
#define ROTATE_TRIES	 16
#define KEY_NAME_PREFIX	 "key-"
#define KEY_TMP_TEMPLATE ".key-new.XXXXXX"

struct secret_key {
	uint32_t id;
	uint8_t key[SECRET_KEY_LEN];
};

struct secret_box {
	/* Readers: seal and unseal. Writer: loading, rotating, removing. */
	pthread_rwlock_t lock;
	char dir[PATH_MAX];
	struct secret_key *keys; /* ascending id; the last one is current */
	size_t n, cap;
	struct timespec dir_mtime; /* of the directory as of the last load */
};

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* "key-N", N decimal without leading zeros, 1..UINT32_MAX. */
static bool key_name_parse(const char *name, uint32_t *ret)
{
	size_t plen = strlen(KEY_NAME_PREFIX);
	if (strncmp(name, KEY_NAME_PREFIX, plen) != 0)
		return false;
	const char *d = name + plen;
	size_t n = strlen(d);
	if (n == 0 || n > 10 || d[0] == '0' || strspn(d, "0123456789") != n)
		return false;
	unsigned long long v = strtoull(d, NULL, 10);
	if (v > UINT32_MAX)
		return false;
	*ret = (uint32_t)v;
	return true;
}

static struct secret_key *box_find(struct secret_box *b, uint32_t id)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->keys[i].id == id)
			return &b->keys[i];
	return NULL;
}

static void box_insert(struct secret_box *b, uint32_t id, const uint8_t key[SECRET_KEY_LEN])
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4;
		struct secret_key *k = xcalloc(cap, sizeof(*k));
		if (b->n)
			memcpy(k, b->keys, b->n * sizeof(*k));
		OPENSSL_cleanse(b->keys, b->cap * sizeof(*k));
		free(b->keys);
		b->keys = k;
		b->cap = cap;
	}
	size_t i = b->n;
	while (i > 0 && b->keys[i - 1].id > id) {
		b->keys[i] = b->keys[i - 1];
		i--;
	}
	b->keys[i].id = id;
	memcpy(b->keys[i].key, key, SECRET_KEY_LEN);
	b->n++;
}

static int key_read(struct secret_box *b, int dfd, const char *name, uint8_t key[SECRET_KEY_LEN], char *err,
		    size_t errlen)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int r = -errno;
		err_set(err, errlen, "%s/%s: %s", b->dir, name, strerror(-r));
		return r;
	}
	struct stat st;
	int r = 0;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		err_set(err, errlen, "%s/%s: %s", b->dir, name, strerror(-r));
	} else if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		err_set(err, errlen, "%s/%s is not a regular file", b->dir, name);
	} else if (st.st_mode & 077) {
		r = -EACCES;
		err_set(err, errlen, "%s/%s can be read by others (mode %04o); chmod 600 it", b->dir, name,
			(unsigned)(st.st_mode & 07777));
	} else if (st.st_size != SECRET_KEY_LEN) {
		r = -EINVAL;
		err_set(err, errlen, "%s/%s holds %lld bytes, not a %d-byte key", b->dir, name, (long long)st.st_size,
			SECRET_KEY_LEN);
	} else {
		size_t got = 0;
		while (got < SECRET_KEY_LEN) {
			ssize_t n = read(fd, key + got, SECRET_KEY_LEN - got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				r = n < 0 ? -errno : -EIO;
				err_set(err, errlen, "%s/%s: %s", b->dir, name, strerror(-r));
				break;
			}
			got += (size_t)n;
		}
	}
	close(fd);
	return r;
}

/* Add the keys on disk that are not held yet; held keys are never dropped
 * (a blob sealed with a key purged meanwhile still opens here). Called
 * with the write lock held, or before the box is shared. */
static int box_load(struct secret_box *b, char *err, size_t errlen)
{
	struct stat st;
	if (stat(b->dir, &st) < 0) {
		int r = -errno;
		err_set(err, errlen, "%s: %s", b->dir, strerror(-r));
		return r;
	}
	if (st.st_mode & 077) {
		err_set(err, errlen, "%s can be read by others (mode %04o); chmod 700 it", b->dir,
			(unsigned)(st.st_mode & 07777));
		return -EACCES;
	}
	/* Taken before reading the entries: a key added while we read changes
	 * the time again and is picked up by the next seal. */
	b->dir_mtime = st.st_mtim;
	DIR *d = opendir(b->dir);
	if (!d) {
		int r = -errno;
		err_set(err, errlen, "%s: %s", b->dir, strerror(-r));
		return r;
	}
	int r = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		uint32_t id;
		uint8_t key[SECRET_KEY_LEN];
		if (!key_name_parse(de->d_name, &id) || box_find(b, id))
			continue;
		r = key_read(b, dirfd(d), de->d_name, key, err, errlen);
		if (r == 0)
			box_insert(b, id, key);
		OPENSSL_cleanse(key, sizeof(key));
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

/* Write key-id, never over an existing file: a complete temporary file is
 * linked to its name (-EEXIST when another process took the id first), so
 * no reader ever sees half a key. */
static int key_create(struct secret_box *b, uint32_t id, char *err, size_t errlen)
{
	char tmp[PATH_MAX], path[PATH_MAX], name[32];
	uint8_t key[SECRET_KEY_LEN];

	snprintf(name, sizeof(name), KEY_NAME_PREFIX "%" PRIu32, id);
	if (fs_path_join(tmp, sizeof(tmp), b->dir, KEY_TMP_TEMPLATE) < 0 ||
	    fs_path_join(path, sizeof(path), b->dir, name) < 0) {
		err_set(err, errlen, "%s: path too long", b->dir);
		return -ENAMETOOLONG;
	}
	if (RAND_bytes(key, sizeof(key)) != 1) {
		err_set(err, errlen, "no random bytes for a new key");
		return -EIO;
	}
	int fd = mkstemp(tmp);
	if (fd < 0) {
		int r = -errno;
		OPENSSL_cleanse(key, sizeof(key));
		err_set(err, errlen, "%s: %s", b->dir, strerror(-r));
		return r;
	}
	int r = fchmod(fd, 0600) < 0 ? -errno : 0;
	if (r == 0)
		r = fs_write_full(fd, key, sizeof(key));
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && link(tmp, path) < 0)
		r = -errno;
	unlink(tmp);
	if (r == 0) {
		int dfd = open(b->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
		box_insert(b, id, key);
	} else if (r != -EEXIST) {
		err_set(err, errlen, "%s: %s", path, strerror(-r));
	}
	OPENSSL_cleanse(key, sizeof(key));
	return r;
}

/* Create the key after the highest on disk or held; under the write lock. */
static int box_add_next(struct secret_box *b, uint32_t *ret_id, char *err, size_t errlen)
{
	for (int tries = 0; tries < ROTATE_TRIES; tries++) {
		int r = box_load(b, err, errlen);
		if (r < 0)
			return r;
		uint32_t id = b->n ? b->keys[b->n - 1].id + 1 : 1;
		if (id == 0) {
			err_set(err, errlen, "%s: no key ids left", b->dir);
			return -EOVERFLOW;
		}
		r = key_create(b, id, err, errlen);
		if (r == 0 && ret_id)
			*ret_id = id;
		if (r != -EEXIST)
			return r;
	}
	err_set(err, errlen, "%s: other processes kept taking the next key id", b->dir);
	return -EAGAIN;
}

int secret_box_open(const char *state_dir, struct secret_box **ret, char *err, size_t errlen)
{
	struct secret_box *b = xcalloc(1, sizeof(*b));
	int r;

	*ret = NULL;
	pthread_rwlock_init(&b->lock, NULL);
	if (fs_path_join(b->dir, sizeof(b->dir), state_dir, SECRET_DIR) < 0) {
		err_set(err, errlen, "%s: path too long", state_dir);
		r = -ENAMETOOLONG;
		goto fail;
	}
	if ((r = fs_mkdir_p(b->dir, 0700)) < 0) {
		err_set(err, errlen, "cannot create %s: %s", b->dir, strerror(-r));
		goto fail;
	}
	if ((r = box_load(b, err, errlen)) < 0)
		goto fail;
	if (b->n == 0 && (r = box_add_next(b, NULL, err, errlen)) < 0)
		goto fail;
	*ret = b;
	return 0;
fail:
	secret_box_free(b);
	return r;
}

void secret_box_free(struct secret_box *b)
{
	if (!b)
		return;
	if (b->keys)
		OPENSSL_cleanse(b->keys, b->cap * sizeof(*b->keys));
	free(b->keys);
	pthread_rwlock_destroy(&b->lock);
	free(b);
}

uint32_t secret_box_current(struct secret_box *b)
{
	pthread_rwlock_rdlock(&b->lock);
	uint32_t id = b->n ? b->keys[b->n - 1].id : 0;
	pthread_rwlock_unlock(&b->lock);
	return id;
}

/* Reload when the directory changed since the last load: a rotation by
 * another process. A failure keeps the keys held. */
static void box_refresh(struct secret_box *b)
{
	struct stat st;
	if (stat(b->dir, &st) < 0)
		return;
	pthread_rwlock_rdlock(&b->lock);
	bool same = st.st_mtim.tv_sec == b->dir_mtime.tv_sec && st.st_mtim.tv_nsec == b->dir_mtime.tv_nsec;
	pthread_rwlock_unlock(&b->lock);
	if (same)
		return;
	pthread_rwlock_wrlock(&b->lock);
	box_load(b, NULL, 0);
	pthread_rwlock_unlock(&b->lock);
}

static EVP_CIPHER_CTX *cipher_ctx(void)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		oom_abort(0);
	return ctx;
}

int secret_box_seal(struct secret_box *b, const char *aad, const char *plaintext, uint8_t **ret_blob, size_t *ret_len)
{
	size_t plen = strlen(plaintext), alen = strlen(aad);
	*ret_blob = NULL;
	*ret_len = 0;
	if (plen > SECRET_PLAIN_MAX)
		return -EMSGSIZE;
	if (alen >= SECRET_AAD_MAX)
		return -EINVAL;
	box_refresh(b);

	size_t len = SECRET_BLOB_OVERHEAD + plen;
	uint8_t *blob = xmalloc(len);
	uint8_t *nonce = blob + SECRET_BLOB_HEADER, *ct = nonce + SECRET_NONCE_LEN, *tag = ct + plen;
	if (RAND_bytes(nonce, SECRET_NONCE_LEN) != 1) {
		free(blob);
		return -EIO;
	}
	EVP_CIPHER_CTX *ctx = cipher_ctx();
	int outl = 0, r = -EIO;
	pthread_rwlock_rdlock(&b->lock);
	const struct secret_key *k = &b->keys[b->n - 1];
	blob[0] = SECRET_BLOB_V1;
	put_be32(blob + 1, k->id);
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SECRET_NONCE_LEN, NULL) == 1 &&
	    EVP_EncryptInit_ex(ctx, NULL, NULL, k->key, nonce) == 1 &&
	    EVP_EncryptUpdate(ctx, NULL, &outl, blob, SECRET_BLOB_HEADER) == 1 &&
	    EVP_EncryptUpdate(ctx, NULL, &outl, (const uint8_t *)aad, (int)alen) == 1 &&
	    EVP_EncryptUpdate(ctx, ct, &outl, (const uint8_t *)plaintext, (int)plen) == 1 && (size_t)outl == plen &&
	    EVP_EncryptFinal_ex(ctx, ct + outl, &outl) == 1 && outl == 0 &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SECRET_TAG_LEN, tag) == 1)
		r = 0;
	pthread_rwlock_unlock(&b->lock);
	EVP_CIPHER_CTX_free(ctx);
	if (r < 0) {
		free(blob);
		return r;
	}
	*ret_blob = blob;
	*ret_len = len;
	return 0;
}

int secret_blob_key_id(const uint8_t *blob, size_t len, uint32_t *ret)
{
	if (!blob || len < SECRET_BLOB_OVERHEAD || blob[0] != SECRET_BLOB_V1)
		return -EBADMSG;
	*ret = get_be32(blob + 1);
	return 0;
}

/* Decrypt with k; the caller holds the read lock. */
static int blob_open(const struct secret_key *k, const char *aad, const uint8_t *blob, size_t len, char **ret)
{
	const uint8_t *nonce = blob + SECRET_BLOB_HEADER, *ct = nonce + SECRET_NONCE_LEN;
	size_t clen = len - SECRET_BLOB_OVERHEAD;
	uint8_t tag[SECRET_TAG_LEN];
	memcpy(tag, ct + clen, SECRET_TAG_LEN); /* the ctrl call takes a non-const pointer */
	char *plain = xmalloc(clen + 1);
	EVP_CIPHER_CTX *ctx = cipher_ctx();
	int outl = 0, r = -EBADMSG;
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SECRET_NONCE_LEN, NULL) == 1 &&
	    EVP_DecryptInit_ex(ctx, NULL, NULL, k->key, nonce) == 1 &&
	    EVP_DecryptUpdate(ctx, NULL, &outl, blob, SECRET_BLOB_HEADER) == 1 &&
	    EVP_DecryptUpdate(ctx, NULL, &outl, (const uint8_t *)aad, (int)strlen(aad)) == 1 &&
	    EVP_DecryptUpdate(ctx, (uint8_t *)plain, &outl, ct, (int)clen) == 1 && (size_t)outl == clen &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SECRET_TAG_LEN, tag) == 1 &&
	    EVP_DecryptFinal_ex(ctx, (uint8_t *)plain + outl, &outl) == 1)
		r = 0;
	EVP_CIPHER_CTX_free(ctx);
	if (r < 0) {
		OPENSSL_cleanse(plain, clen + 1);
		free(plain);
		return r;
	}
	plain[clen] = '\0';
	*ret = plain;
	return 0;
}

int secret_box_unseal(struct secret_box *b, const char *aad, const uint8_t *blob, size_t len, char **ret_plaintext)
{
	uint32_t id;
	*ret_plaintext = NULL;
	if (secret_blob_key_id(blob, len, &id) < 0 || len - SECRET_BLOB_OVERHEAD > SECRET_PLAIN_MAX ||
	    strlen(aad) >= SECRET_AAD_MAX)
		return -EBADMSG;
	for (int attempt = 0; attempt < 2; attempt++) {
		pthread_rwlock_rdlock(&b->lock);
		const struct secret_key *k = box_find(b, id);
		int r = k ? blob_open(k, aad, blob, len, ret_plaintext) : -ENOKEY;
		pthread_rwlock_unlock(&b->lock);
		if (r != -ENOKEY || attempt > 0)
			return r;
		/* Another process may have rotated since we loaded. */
		pthread_rwlock_wrlock(&b->lock);
		box_load(b, NULL, 0);
		pthread_rwlock_unlock(&b->lock);
	}
	return -ENOKEY;
}

int secret_box_rotate(struct secret_box *b, uint32_t *ret_id, char *err, size_t errlen)
{
	pthread_rwlock_wrlock(&b->lock);
	int r = box_add_next(b, ret_id, err, errlen);
	pthread_rwlock_unlock(&b->lock);
	return r;
}

void secret_box_key_ids(struct secret_box *b, uint32_t **ret_ids, size_t *ret_n)
{
	pthread_rwlock_rdlock(&b->lock);
	uint32_t *ids = xcalloc(b->n ? b->n : 1, sizeof(*ids));
	for (size_t i = 0; i < b->n; i++)
		ids[i] = b->keys[i].id;
	*ret_n = b->n;
	pthread_rwlock_unlock(&b->lock);
	*ret_ids = ids;
}

int secret_box_remove_key(struct secret_box *b, uint32_t id)
{
	char name[32], path[PATH_MAX];
	snprintf(name, sizeof(name), KEY_NAME_PREFIX "%" PRIu32, id);
	if (fs_path_join(path, sizeof(path), b->dir, name) < 0)
		return -ENAMETOOLONG;
	pthread_rwlock_wrlock(&b->lock);
	int r = 0;
	struct secret_key *k = box_find(b, id);
	if (!k)
		r = -ENOENT;
	else if (k == &b->keys[b->n - 1])
		r = -EBUSY;
	else if (unlink(path) < 0 && errno != ENOENT)
		r = -errno;
	if (r == 0) {
		size_t i = (size_t)(k - b->keys);
		memmove(&b->keys[i], &b->keys[i + 1], (b->n - i - 1) * sizeof(*k));
		b->n--;
		OPENSSL_cleanse(&b->keys[b->n], sizeof(*k));
	}
	pthread_rwlock_unlock(&b->lock);
	return r;
}

void secret_free(char *plaintext)
{
	if (!plaintext)
		return;
	OPENSSL_cleanse(plaintext, strlen(plaintext));
	free(plaintext);
}

void secret_aad_format(char *buf, size_t len, const char *table, int64_t id, const char *field)
{
	snprintf(buf, len, "%s:%" PRId64 ":%s", table, id, field);
}
