/* Boot resources: hashing and confined directory walks; see bootres.h. */
#include "common/bootres.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"

#define HASH_CHUNK (1u << 20)

struct bootres_hash {
	EVP_MD_CTX *ctx;
};

struct bootres_hash *bootres_hash_new(void)
{
	struct bootres_hash *h = xcalloc(1, sizeof(*h));
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx)
		oom_abort(0);
	if (EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1)
		abort(); /* SHA-256 is always there; without it nothing can be verified */
	return h;
}

void bootres_hash_update(struct bootres_hash *h, const void *data, size_t len)
{
	EVP_DigestUpdate(h->ctx, data, len);
}

void bootres_hash_final(struct bootres_hash *h, char ret_hex[BOOTRES_SHA256_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_DigestFinal_ex(h->ctx, md, &n);
	for (unsigned i = 0; i < n && i < 32; i++)
		snprintf(ret_hex + 2 * i, 3, "%02x", md[i]);
	bootres_hash_free(h);
}

void bootres_hash_free(struct bootres_hash *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

int bootres_sha256_fd(int fd, const atomic_bool *stop, char ret_hex[BOOTRES_SHA256_HEX], uint64_t *ret_size)
{
	unsigned char *buf = xmalloc(HASH_CHUNK);
	struct bootres_hash *h = bootres_hash_new();
	uint64_t off = 0;
	int rc = 0;
	for (;;) {
		if (stop && atomic_load(stop)) {
			rc = -ECANCELED;
			break;
		}
		ssize_t n = pread(fd, buf, HASH_CHUNK, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		bootres_hash_update(h, buf, (size_t)n);
		off += (uint64_t)n;
	}
	free(buf);
	if (rc < 0) {
		bootres_hash_free(h);
		return rc;
	}
	bootres_hash_final(h, ret_hex);
	if (ret_size)
		*ret_size = off;
	return 0;
}

/* openat of a directory component that refuses symlinks: O_DIRECTORY wins
 * over O_NOFOLLOW and says ENOTDIR for a symlink, so look again. */
static int open_subdir(int dirfd, const char *comp)
{
	int fd = openat(dirfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	int err = errno;
	struct stat st;
	if (err == ENOTDIR && fstatat(dirfd, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
		err = ELOOP;
	return -err;
}

int bootres_dir_open(int rootfd, const char *name, bool create, const char **ret_base)
{
	if (bootres_name_check(name, NULL) < 0)
		return -EINVAL;
	int cur = fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
	if (cur < 0)
		return -errno;
	const char *p = name;
	for (;;) {
		const char *slash = strchr(p, '/');
		if (!slash)
			break;
		char comp[BOOTRES_NAME_MAX + 1];
		size_t n = (size_t)(slash - p);
		memcpy(comp, p, n);
		comp[n] = '\0';
		int next = open_subdir(cur, comp);
		if (next == -ENOENT && create) {
			if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST) {
				next = -errno;
			} else {
				next = open_subdir(cur, comp);
			}
		}
		close(cur);
		if (next < 0)
			return next;
		cur = next;
		p = slash + 1;
	}
	*ret_base = p;
	return cur;
}
